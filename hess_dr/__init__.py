"""hess_dr: publish gamma-ray DL3 event lists through GAVO DaCHS.

The package holds pure functions (no DaCHS import) that read DL3 files and
build the rows, links, previews and cutouts the resource descriptor serves.
"""
__version__ = "0.1.0"

from astropy.utils import iers as _iers

# No network on a data centre's import host: never try to download IERS
# tables.  UTC conversions use the leap-second table bundled with
# astropy/erfa (no leap second has been announced after 2016-12-31).
_iers.conf.auto_download = False
# astropy 5.2's bundled leap-second file carries an expiry date in the past;
# the warning it triggers on every UTC conversion says nothing about our data.
import warnings as _warnings  # noqa: E402

_warnings.filterwarnings("ignore", category=_iers.IERSStaleWarning)

# UTC conversions of dates past the end of the bundled leap-second table
# (CTAO data from 2027 on) make erfa warn "dubious year"; the conversion
# extrapolates the last TAI-UTC offset, which is the best available.
import erfa as _erfa  # noqa: E402

_warnings.filterwarnings("ignore", category=_erfa.ErfaWarning, message=".*dubious year.*")

"""hess_dr's own DataLink core: DataLink 1.1 and DALI errors, for hess_dr only.

q.rd's ``dl`` and ``prod`` services run this core (``<customCore
module="res/dlcore">``).  It is DaCHS 2.7's DatalinkCore with what hess_dr
needs beyond it, reached only through hess_dr's own URLs; DaCHS's classes,
its ``//datalink`` RD and its renderers stay as they ship, so every other
resource of the site sees DaCHS unchanged:

* **procedures from the RD**: ``customCore`` cannot hold metaMakers, so
  the descriptor generator, metaMakers and data functions are taken from the
  ``<datalinkCore>`` named by the property ``procs`` (a prototype that
  serves nothing itself);
* **DataLink 1.1 responses**: links go into hess_dr's own response table
  (q.rd ``dlresponse``: DaCHS's columns plus ``content_qualifier``, and
  ``service_def`` with the UCD ``meta.ref``), the results RESOURCE carries
  the links-1.1 ``standardID`` INFO, the service descriptor of the SODA
  endpoint is labelled ``#cutout`` (property ``endpointSemantics``) with
  its content qualifier, and non-browser clients get the DataLink media
  type even when their Accept header mentions text/html (Java's does);
* **errors of dlget as DALI error documents**: every request is checked
  before DaCHS parses it (:func:`hess_dr.request.check_raw_parameters`,
  then the service's own checker, e.g. hess_dr's SODA validator on the raw
  text, so sizes and vertex counts are bounded before any geometry is
  built), then parsed once by DaCHS's own parser as a dry run; any failure
  then, or while the dataset is looked up or its data made, is answered by
  :func:`error_response`, the one place mapping domain errors to HTTP
  statuses and VOTable error documents (``QUERY_STATUS=ERROR``).
* **products with file names**: data come back with a Content-Disposition
  naming a file with the right extension; images are shown inline.
"""
from __future__ import annotations

import os
import sys
import threading
import traceback

from gavo import base, rsc, svcs, utils
from gavo.formats import votablewrite
from gavo.protocols import datalink
from gavo.svcs import inputdef
from gavo.votable import V

_RESDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _RESDIR not in sys.path:  # a checkout without an installed hess_dr
    sys.path.insert(0, _RESDIR)

from hess_dr import request as hess_request  # noqa: E402

#: hess_dr's DataLink glue (descriptors, links, SODA, products), loaded once.
support, _ = utils.loadPythonModule("datalink", relativeTo=__file__)

#: Longest error message sent (DaCHS's messages quote whole values).
MAX_MESSAGE_LENGTH = 300
LINKS_STANDARD_ID = "ivo://ivoa.net/std/DataLink#links-1.1"
VOTABLE_MIME = "application/x-votable+xml"
DATALINK_MIME = "application/x-votable+xml;content=datalink"
#: RESPONSEFORMAT values of a links response (all give DATALINK_MIME).
LINKS_FORMATS = frozenset({"votable", VOTABLE_MIME, DATALINK_MIME,
                           "application/x-votable+xml; content=datalink"})
#: Headers of every answer about a proprietary dataset: only the requester's
#: own client may keep it.
PRIVATE_HEADERS = {"Cache-Control": "private, no-store", "Vary": "Authorization"}
#: The DALI parameters DaCHS adds to a service with a dlmeta renderer.
_DALI_KEYS = ("responseformat", "maxrec", "verb")

# Exceptions DaCHS raises for a request it will not serve, and what they mean.
_DACHS_FAULTS = (
    (svcs.Authenticate, 401, "AuthenticationFault"),
    (svcs.ForbiddenURI, 403, "AuthorizationFault"),
    (base.NotFoundError, 404, "NotFoundFault"),
    (base.ValidationError, 400, "UsageError"),
)


# ------------------------------------------------------------ responses

class Response:
    """A complete HTTP answer for DaCHS's dlget renderer.

    The renderer calls ``render(request)`` on whatever a core returns that
    is not a ``(media type, bytes)`` pair; so this object decides status,
    headers and body itself, replacing the renderer's generic attachment
    name.

    Parameters
    ----------
    status : int
    media_type : str
    payload : bytes
    headers : dict, optional
        Further headers (Content-Disposition, Retry-After, ...).
    """

    def __init__(self, status: int, media_type: str, payload: bytes,
                 headers: dict | None = None):
        self.status, self.type, self.payload = status, media_type, payload
        self.headers = dict(headers or {})

    def render(self, request):
        request.setResponseCode(self.status)
        request.responseHeaders.removeHeader("content-disposition")
        request.setHeader("content-type", self.type)
        for name, value in self.headers.items():
            request.setHeader(name, value)
        request.write(self.payload)
        request.finish()


def dali_error_document(message: str) -> bytes:
    """A DALI error document: a VOTable with INFO QUERY_STATUS=ERROR.

    Messages are cut to :data:`MAX_MESSAGE_LENGTH`: DaCHS's own quote whole
    parameter values, and an error document never echoes a long value.
    """
    if len(message) > MAX_MESSAGE_LENGTH:
        message = message[:MAX_MESSAGE_LENGTH] + "..."
    doc = V.VOTABLE[V.RESOURCE(type="results")[
        V.INFO(name="QUERY_STATUS", value="ERROR")[message]]]
    return b"<?xml version='1.0' encoding='utf-8'?>\n" + doc.render()


def classify(exc: BaseException) -> tuple[int, str, dict]:
    """HTTP status, DALI message and extra headers for an exception.

    Domain errors of the hess_dr package carry ``http_status`` (and may
    carry ``dali_message``, ``retry_after``); DaCHS's own exceptions are
    mapped by class; anything else is a 500 ServiceFault whose details go
    to the server log, never to the client.
    """
    headers = {}
    status = getattr(exc, "http_status", None)
    if status is None:
        for exc_class, exc_status, fault in _DACHS_FAULTS:
            if isinstance(exc, exc_class):
                status = getattr(exc, "responseCode", exc_status)
                message = f"{fault}: {utils.safe_str(exc)}"
                break
        else:
            base.ui.notifyError("hess_dr: " + "".join(traceback.format_exception(exc)))
            return 500, f"ServiceFault: internal error ({type(exc).__name__})", headers
    else:
        message = getattr(exc, "dali_message", None) or (
            f"{'UsageError' if status < 500 else 'ServiceFault'}: {exc}")
    if status == 401:
        headers["WWW-Authenticate"] = f'Basic realm="{base.getConfig("web", "realm")}"'
    if getattr(exc, "retry_after", None):
        headers["Retry-After"] = str(int(exc.retry_after))
    return status, message, headers


def error_response(exc: BaseException, headers: dict | None = None) -> Response:
    """The DALI error document answering ``exc`` (the one mapping place)."""
    status, message, extra = classify(exc)
    return Response(status, VOTABLE_MIME, dali_error_document(message),
                    {**(headers or {}), **extra})


def product_response(media_type: str, payload: bytes, file_name: str | None,
                     headers: dict | None = None) -> Response:
    """A product: shown inline when it is an image, else a named download."""
    disposition = "inline" if media_type.startswith("image/") else "attachment"
    headers = dict(headers or {})
    if file_name:
        headers["Content-Disposition"] = f'{disposition}; filename="{file_name}"'
    return Response(200, media_type, payload, headers)


# ----------------------------------------------------------------- core

class Core(datalink.DatalinkCore):
    """hess_dr's DataLink core (see the module docstring).

    Properties (``<property key=...>`` in the RD):

    procs
        Id of the prototype ``<datalinkCore>`` whose procedures to run.
    endpointSemantics, endpointQualifier
        Semantics and content qualifier of the link to the processing
        service (default ``#proc`` and none).
    checkRequest
        Name of a function of res/datalink.py called with the raw
        parameters of a dlget request before DaCHS parses them.
    """

    support = support
    _adopt_lock = threading.Lock()
    _adopted = False

    def _adopt_procs(self):
        with self._adopt_lock:
            if self._adopted:
                return
            prototype = self.rd.getById(self.getProperty("procs"))
            self.descriptorGenerator = prototype.descriptorGenerator
            self.metaMakers = list(prototype.metaMakers)
            self.dataFunctions = list(prototype.dataFunctions)
            self.dataFormatter = prototype.dataFormatter
            self._own_dali_keys()
            self._adopted = True

    def _own_dali_keys(self):
        """Let hess_dr check MAXREC, VERB and RESPONSEFORMAT itself.

        DaCHS gives a service with a dlmeta renderer its shared DALI input
        keys, whose parse errors its renderer answers as plain text (422)
        before this core could answer them; this service (hess_dr's own)
        gets text-typed copies instead, and :meth:`adaptForRenderer` checks
        the values (:func:`hess_dr.request.check_dali_parameters`).
        """
        service = self.parent
        service.serviceKeys = [
            key.change(type="text", values=None) if key.name in _DALI_KEYS else key
            for key in service.serviceKeys]

    def adaptForRenderer(self, renderer, queryMeta):
        if renderer.name not in self.datalinkAdaptingRenderers:
            return self
        self._adopt_procs()
        # the descriptors made below note what this requester may not read
        self.support.begin_request(queryMeta, renderer.name)
        try:
            return self._adapt(renderer, queryMeta)
        finally:
            self.support.end_request()

    def _adapt(self, renderer, queryMeta):
        try:
            raw = utils.stealVar("args")
        except ValueError:
            raw = {}
        if renderer.name != "dlget":
            # dlmeta: faults of datasets are rows of the links table; bad
            # DALI parameters and what DaCHS's parser refuses (unknown
            # parameters) get an error document
            try:
                if isinstance(raw, dict):
                    hess_request.check_dali_parameters(raw, LINKS_FORMATS)
                core = super().adaptForRenderer(renderer, queryMeta)
                self._parse_as_dachs_will(core, renderer, queryMeta, raw)
            except (base.ValidationError, hess_request.SodaError) as exc:
                return self._answering((VOTABLE_MIME, dali_error_document(classify(exc)[1])))
            return core
        try:
            if isinstance(raw, dict) and raw:
                hess_request.check_raw_parameters(raw, single={"ID"})
                formats = self.getProperty("responseFormats", None)
                hess_request.check_dali_parameters(
                    raw, frozenset(formats.split()) if formats else None)
                checker = self.getProperty("checkRequest", None)
                if checker:
                    getattr(self.support, checker)(raw)
            core = super().adaptForRenderer(renderer, queryMeta)
            self._parse_as_dachs_will(core, renderer, queryMeta, raw)
            return core
        except svcs.RedirectBase:
            raise
        except Exception as exc:
            return self._answering(error_response(exc))

    def _parse_as_dachs_will(self, core, renderer, queryMeta, raw):
        """DaCHS's own parse of the request, as service.run does it next, so
        that its errors are answered by this core rather than the renderer."""
        if isinstance(raw, dict):
            inputdef.CoreArgs.fromRawArgs(
                core.inputTable, raw,
                self.parent.getContextGrammarFor(renderer, queryMeta, core))

    def _answering(self, response):
        """A per-request core that parses nothing and returns ``response``
        (a :class:`Response`, or a (media type, bytes) pair for dlmeta)."""
        core = self.change(inputTable=base.makeStruct(
            svcs.InputTD, inputKeys=[], exclusive=False))
        core.nocache = True
        core.run = lambda service, inputTable, queryMeta: response
        return core

    def runForData(self, service, inputTable, queryMeta):
        descriptor = self.descriptors[-1] if self.descriptors else None
        args = inputTable.getParamDict()
        # proprietary data: never kept by a shared (proxy) cache
        private = PRIVATE_HEADERS if self.support.is_proprietary(descriptor) else {}
        refused = self.support.refusal(descriptor, args)
        if refused is not None:
            self.finalize()
            return error_response(refused, private)
        try:
            result = super().runForData(service, inputTable, queryMeta)
        except Exception as exc:
            return error_response(exc, private)
        if isinstance(result, tuple):
            media_type, payload = result
            return product_response(media_type, payload, self.support.file_name(
                descriptor, args, media_type), private)
        return result

    def getDatalinksResource(self, ctx, service):
        semantics = self.getProperty("endpointSemantics", "#proc")
        qualifier = self.getProperty("endpointQualifier", None)
        links = [support.QualifiedLinkDef(
                    endpoint.pubDID, None,
                    serviceType=ctx.getOrMakeIdFor(endpoint, suggestion="procsvc"),
                    description=endpoint.description, semantics=semantics,
                    contentQualifier=qualifier)
                 for endpoint in self.datalinkEndpoints]
        for descriptor in self.descriptors:
            links.extend(self._iterAutoLinks(descriptor, service))
        data = rsc.makeData(self.rd.getById("make_dlresponse"),
                            forceSource=self.datalinkLinks + links + self.errors)
        data.setMeta("_type", "results")
        resource = votablewrite.makeResource(
            votablewrite.VOTableContext(tablecoding="td"), data)
        return resource[V.INFO(name="standardID", value=LINKS_STANDARD_ID)]

    def runForMeta(self, service, inputTable, queryMeta):
        try:
            ctx = votablewrite.VOTableContext(tablecoding="td")
            status = (V.INFO(name="QUERY_STATUS", value="OVERFLOW")[
                          "Results cropped after hitting the MAXREC you passed in."]
                      if self.overflowed else V.INFO(name="QUERY_STATUS", value="OK"))
            vot = V.VOTABLE[self.getDatalinksResource(ctx, service)[status],
                            self._iterAccessResources(ctx, service)]
            # Browsers (user agent "Mozilla") get HTML from the renderer;
            # everything else the DataLink media type, whatever it accepts.
            # (RESPONSEFORMAT was checked in adaptForRenderer: LINKS_FORMATS)
            return (DATALINK_MIME, b"<?xml-stylesheet href='/static/xsl/"
                    b"datalink-to-html.xsl' type='text/xsl'?>" + vot.render())
        finally:
            self.finalize()

<resource schema="guest" resdir="guest">
  <!-- An ordinary resource sharing the test site with hess_dr: FITS images
  with DaCHS's standard products, a standard DataLink/SODA service (a
  descriptor generator and processing parameters), all from DaCHS's own
  procDefs.  tests/integration/test_shared_site.py copies this directory,
  writes data/*.fits beside it and checks that it answers the same with
  hess_dr loaded and serving as on a DaCHS without hess_dr. -->
  <meta name="creationDate">2026-12-02T12:00:00Z</meta>
  <meta name="title">Guest images (another resource of the site)</meta>
  <meta name="description">Two small images with a standard DataLink and
    SODA service, to show that hess_dr changes nothing for its neighbours.</meta>
  <meta name="creator">hess_dr tests</meta>
  <meta name="subject">virtual-observatories</meta>

  <table id="images" onDisk="True" adql="True">
    <meta name="description">The guest images.</meta>
    <mixin>//products#table</mixin>
    <column name="object" type="text" ucd="meta.id;src"
      description="OBJECT keyword of the image"/>
    <column name="pub_did" type="text" ucd="meta.ref.ivoid"
      description="Publisher DID (the DataLink ID)"/>
    <meta name="_associatedDatalinkService">
      <meta name="serviceId">dl</meta>
      <meta name="idColumn">pub_did</meta>
    </meta>
  </table>

  <data id="import">
    <sources pattern="data/*.fits"/>
    <fitsProdGrammar>
      <rowfilter procDef="//products#define">
        <bind key="table">"\schema.images"</bind>
      </rowfilter>
    </fitsProdGrammar>
    <make table="images">
      <rowmaker>
        <map dest="object">@OBJECT</map>
        <map dest="pub_did">\standardPubDID</map>
      </rowmaker>
    </make>
  </data>

  <service id="dl" allowed="dlget,dlmeta">
    <meta name="title">Guest images DataLink and cutouts</meta>
    <datalinkCore>
      <descriptorGenerator procDef="//soda#fits_genDesc">
        <bind key="accrefPrefix">"guest/"</bind>
      </descriptorGenerator>
      <FEED source="//soda#fits_standardDLFuncs"/>
    </datalinkCore>
  </service>
</resource>

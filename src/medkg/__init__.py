"""medkg: a knowledge graph of public medical imaging datasets.

The pipeline, one module per step, dependencies pointing one way:

    sources   (manifest.toml, markdown lists)        medkg.sources, medkg.markdown
      -> records  (one typed record per dataset entry)   medkg.records, medkg.extract
      -> merge    (one dataset per real-world dataset)   medkg.merge
      -> graph    (RDF quads with provenance)            medkg.graph
      -> validation (SHACL shapes)                       medkg.validation
      -> store    (Oxigraph on disk, atomic swap)        medkg.store
      -> export   (dumps and catalogue formats)          medkg.export

`medkg.build` runs them in order; `medkg.cli` is the command line. The web endpoint lives in the
separate `medkg_server` package, which imports medkg; nothing here imports it.
"""

__version__ = "0.1.0"

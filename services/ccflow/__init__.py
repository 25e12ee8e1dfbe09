"""ccflow: the journey engine's pure core (flows as code), shared by routing and ccctl.

    bundle = load_paths([Path("examples/flows/support")])   # Flow, FlowOverlay, FlowCatalog docs
    validate_bundle(bundle)                                  # FlowError names file, node, problem
    flow, applied = render(bundle, "support", {"region": "eu", "brand": "acme-retail"})
    effects = Executor(flow).start(journey, now)             # pure state machine, no I/O
    results = Simulator(bundle).run(load_scenarios(text, "scenarios.yaml"))

Modules: `model` (documents), `schema` (published JSON Schema), `loader`, `expressions` (CEL),
`validate`, `overlays` (render), `diff`, `journey`, `effects`, `executor`, `simulator`,
`registry` (versions and aliases). It imports no service.
"""

"""A pipeline of one coupling layer and a prior, both chosen through the registry."""

from flowkit import CompositeTransform, Flow, Pipeline, hookimpl


class SingleCoupling(Pipeline):
    name = "single"
    description = "one coupling layer and a prior"
    defaults = {"coupling": "additive", "hidden": 64, "prior": "gaussian", "prior_options": {}}
    component_arguments = {"prior": {}}  # prior_options are checked against the prior
    contract_examples = [{"hidden": 8}]

    def build(self, registry, features, config):
        self.check_component_options(registry, config)
        coupling = registry.get("coupling", config["coupling"])
        transform = CompositeTransform([coupling(features, hidden=config["hidden"], depth=1)])
        prior = registry.get("prior", config["prior"])(features, **config["prior_options"])
        return Flow(transform, prior)


@hookimpl
def flowkit_register_pipelines():
    return [SingleCoupling]

"""A pipeline of one coupling layer and a prior, both chosen through the registry."""

from flowkit import CompositeTransform, Flow, LawCoupling, Pipeline, hookimpl


class SingleCoupling(Pipeline):
    name = "single"
    description = "one coupling layer and a prior"
    defaults = {
        "coupling": "additive",
        "coupling_options": {},
        "hidden": 64,
        "prior": "gaussian",
        "prior_options": {},
    }
    # coupling_options and prior_options are checked against the chosen law and prior
    component_arguments = {"coupling": {}, "prior": {}}
    contract_examples = [{"hidden": 8}, {"hidden": 8, "coupling": "affine"}]

    def build(self, registry, features, config):
        self.check_component_options(registry, config)
        law = self.make_law(registry, config)  # any registered law, with its options
        layer = LawCoupling(features, law=law, hidden=config["hidden"], depth=1)
        prior = registry.get("prior", config["prior"])(features, **config["prior_options"])
        return Flow(CompositeTransform([layer]), prior)


@hookimpl
def flowkit_register_pipelines():
    return [SingleCoupling]

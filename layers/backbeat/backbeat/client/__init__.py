"""The reference player client: an adaptive-bitrate controller, the seed's baselines, and a player loop
(manifest -> prebuffer -> segment by segment) over an injected fetch, so it runs against the devstack
or against fakes and simulated networks."""

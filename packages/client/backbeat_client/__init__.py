"""Backbeat's client SDK: the reference player (manifest -> prebuffer -> segment by segment, over an
injected fetch, so it runs against the devstack or against fakes and simulated networks), its
adaptive-bitrate controller and the baselines it is measured against, the HLS playlist reader, and
the change-log replay that keeps a playlist current from WebSocket messages. It is a package of its
own: nothing in the `backbeat` layer imports it."""

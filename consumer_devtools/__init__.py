"""Developer tooling around the service, not the service: the Freshdesk sandbox, a local Kafka
broker from Maven Central jars, sample events, the demo, ``try``, and group-offset probes that
tests and the demo wait on. The service itself is the ``consumer`` package."""

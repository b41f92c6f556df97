"""The root of the gateway's error tree.

Every error the gateway expects derives from `GatewayError`, so that exactly one middleware can
turn them into SCIM error bodies and pick the log level: expected errors are logged quietly,
anything else gets a traceback.
"""


class GatewayError(Exception):
    """An error the gateway expects and knows how to answer."""

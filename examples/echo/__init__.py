"""The echo example: a protobuf service and a client actor."""

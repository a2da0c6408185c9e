from google.protobuf import descriptor_pb2 as _descriptor_pb2
from . import package_pb2 as _package_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
PAYLOAD_TYPE_FIELD_NUMBER: _ClassVar[int]
payload_type: _descriptor.FieldDescriptor

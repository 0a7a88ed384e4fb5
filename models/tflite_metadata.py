"""Labels inside the .tflite: TFLite model metadata, with labels.txt as an associated file.

The layout is TFLite Support's, which the Android and iOS metadata extractors, MediaPipe
and Android Studio's ML binding read (metadata_schema.fbs in tensorflow/tflite-support):
a ModelMetadata flatbuffer (file identifier "M001") in a model buffer that the model's
`metadata` list names "TFLITE_METADATA", and the associated files in a zip archive
appended to the flatbuffer (the interpreter ignores it; `unzip -l model.tflite` lists it).
tflite-support has no wheel for Python 3.13, so the few tables used here are written with
the flatbuffers builder, each field in its schema slot, and read back by read_metadata().

Written: the model's name, description and version; the input tensor (RGB image
properties, default size = the backbone's input size); the output tensor with labels.txt
(one label per line, dict.txt's order) as its TENSOR_AXIS_LABELS file.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import flatbuffers
import numpy as np
from flatbuffers.number_types import Uint8Flags, Uint32Flags
from flatbuffers.table import Table

from preprocessing.contract import labels_text, read_labels

METADATA_NAME = "TFLITE_METADATA"
IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"  # every field written here exists since schema 1.0.0
TENSOR_AXIS_LABELS = 2  # AssociatedFileType
RGB = 1  # ColorSpaceType
FEATURE_PROPERTIES, IMAGE_PROPERTIES = 1, 2  # the ContentProperties union's types


@dataclass(frozen=True)
class PhoneMetadata:
    name: str
    description: str
    version: str
    input_name: str
    input_description: str
    input_size: int  # ImageProperties.default_size: the backbone's input size
    output_name: str
    output_description: str
    labels_file: str
    labels: list[str]


def _table(b: flatbuffers.Builder, fields: dict[int, tuple[str, int]]) -> int:
    """A table from {slot: (kind, value)}; kinds: offset (string/vector/table), ubyte, uint."""
    b.StartObject(max(fields, default=-1) + 1)
    for slot, (kind, value) in fields.items():
        {"offset": b.PrependUOffsetTRelativeSlot, "ubyte": b.PrependUint8Slot, "uint": b.PrependUint32Slot}[kind](
            slot, value, 0
        )
    return b.EndObject()


def _vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        b.PrependUOffsetTRelative(offset)
    return b.EndVector()


def build(m: PhoneMetadata) -> bytes:
    """The ModelMetadata flatbuffer (labels not included: they go in the zip)."""
    b = flatbuffers.Builder(1024)
    s = b.CreateString
    size = _table(b, {0: ("uint", m.input_size), 1: ("uint", m.input_size)})  # ImageSize width, height
    image = _table(b, {0: ("ubyte", RGB), 1: ("offset", size)})  # ImageProperties
    content_in = _table(b, {0: ("ubyte", IMAGE_PROPERTIES), 1: ("offset", image)})  # Content
    tensor_in = _table(
        b, {0: ("offset", s(m.input_name)), 1: ("offset", s(m.input_description)), 3: ("offset", content_in)}
    )
    labels_name, labels_description = s(m.labels_file), s("labels of the scores, one per line, in order")
    labels = _table(
        b, {0: ("offset", labels_name), 1: ("offset", labels_description), 2: ("ubyte", TENSOR_AXIS_LABELS)}
    )
    content_out = _table(b, {0: ("ubyte", FEATURE_PROPERTIES), 1: ("offset", _table(b, {}))})
    out_name, out_description, out_files = s(m.output_name), s(m.output_description), _vector(b, [labels])
    tensor_out = _table(
        b,
        {0: ("offset", out_name), 1: ("offset", out_description), 3: ("offset", content_out), 6: ("offset", out_files)},
    )
    subgraph = _table(b, {2: ("offset", _vector(b, [tensor_in])), 3: ("offset", _vector(b, [tensor_out]))})
    name, description, version, parser = s(m.name), s(m.description), s(m.version), s(MIN_PARSER_VERSION)
    subgraphs = _vector(b, [subgraph])
    root = _table(
        b,
        {
            0: ("offset", name),
            1: ("offset", description),
            2: ("offset", version),
            3: ("offset", subgraphs),
            7: ("offset", parser),
        },
    )
    b.Finish(root, file_identifier=IDENTIFIER)
    return bytes(b.Output())


def populate(model: bytes, m: PhoneMetadata) -> bytes:
    """The .tflite with the metadata buffer added and labels.txt zipped onto its end."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    tree = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(build(m), np.uint8)
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(tree.buffers) - 1
    kept = [e for e in tree.metadata or [] if e.name not in (METADATA_NAME, METADATA_NAME.encode())]
    tree.metadata = [*kept, entry]
    out = io.BytesIO(bytes(flatbuffer_utils.convert_object_to_bytearray(tree)))
    with zipfile.ZipFile(out, "a") as archive:
        archive.writestr(m.labels_file, labels_text(m.labels))
    return out.getvalue()


# ---- reading -------------------------------------------------------------------------


def _offset(t: Table, slot: int) -> int:
    return t.Offset(4 + 2 * slot)


def _string(t: Table, slot: int) -> str:
    o = _offset(t, slot)
    return t.String(o + t.Pos).decode() if o else ""


def _child(t: Table, slot: int) -> Table | None:
    o = _offset(t, slot)
    return Table(t.Bytes, t.Indirect(o + t.Pos)) if o else None


def _children(t: Table, slot: int) -> list[Table]:
    o = _offset(t, slot)
    if not o:
        return []
    start = t.Vector(o)
    return [Table(t.Bytes, t.Indirect(start + 4 * i)) for i in range(t.VectorLen(o))]


def _number(t: Table, slot: int, flags) -> int:
    o = _offset(t, slot)
    return t.Get(flags, o + t.Pos) if o else 0


def metadata_buffer(model: bytes) -> bytes:
    """The TFLITE_METADATA buffer of a .tflite; ValueError when there is none."""
    from tensorflow.lite.python import schema_py_generated as schema

    root = schema.Model.GetRootAs(model, 0)
    for i in range(root.MetadataLength()):
        if root.Metadata(i).Name() == METADATA_NAME.encode():
            return root.Buffers(root.Metadata(i).Buffer()).DataAsNumpy().tobytes()
    raise ValueError(f"the model has no {METADATA_NAME} metadata (not exported by tastebud?)")


def read_metadata(model: bytes) -> PhoneMetadata:
    """What build() and populate() wrote, read back from the file's bytes (labels from the zip)."""
    data = bytearray(metadata_buffer(model))
    if bytes(data[4:8]) != IDENTIFIER:
        raise ValueError(f"the {METADATA_NAME} buffer is not a ModelMetadata flatbuffer")
    root = Table(data, flatbuffers.encode.Get(flatbuffers.packer.uoffset, data, 0))
    subgraph = _children(root, 3)[0]
    tensor_in, tensor_out = _children(subgraph, 2)[0], _children(subgraph, 3)[0]
    content = _child(tensor_in, 3)
    image = _child(content, 1) if content and _number(content, 0, Uint8Flags) == IMAGE_PROPERTIES else None
    size = _child(image, 1) if image else None
    files = [f for f in _children(tensor_out, 6) if _number(f, 2, Uint8Flags) == TENSOR_AXIS_LABELS]
    if not files:
        raise ValueError("the output tensor has no TENSOR_AXIS_LABELS file")
    labels_file = _string(files[0], 0)
    with zipfile.ZipFile(io.BytesIO(model)) as archive:
        labels = read_labels(archive.read(labels_file))
    return PhoneMetadata(
        name=_string(root, 0),
        description=_string(root, 1),
        version=_string(root, 2),
        input_name=_string(tensor_in, 0),
        input_description=_string(tensor_in, 1),
        input_size=_number(size, 0, Uint32Flags) if size else 0,
        output_name=_string(tensor_out, 0),
        output_description=_string(tensor_out, 1),
        labels_file=labels_file,
        labels=labels,
    )

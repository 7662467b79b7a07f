"""A tiny ONNX model written as protobuf bytes by hand (no download, and no `onnx`
package: it has no cp313t wheel). Shared by the onnxruntime workloads; not a workload
itself (arena-sweep runs files that define call()).

The model is Y = relu(X @ W1) @ W2 with X [batch, n], W1 and W2 [n, n] float32
initializers: two MatMuls, enough work for the intra-op pool to split. Field numbers
are onnx/onnx.proto3's (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto,
TypeProto, TensorShapeProto, OperatorSetIdProto).
"""

import struct


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, wire, payload):
    return _varint((num << 3) | wire) + payload


def _int(num, n):
    return _field(num, 0, _varint(n))


def _bytes(num, b):
    return _field(num, 2, _varint(len(b)) + b)


def _str(num, s):
    return _bytes(num, s.encode())


FLOAT = 1


def _tensor(name, dims, values):
    raw = struct.pack("<%df" % len(values), *values)
    return b"".join(_int(1, d) for d in dims) + _int(2, FLOAT) + _str(8, name) + _bytes(9, raw)


def _value_info(name, dims):
    shape = b"".join(
        _bytes(1, _str(2, d) if isinstance(d, str) else _int(1, d)) for d in dims
    )
    tensor_type = _int(1, FLOAT) + _bytes(2, shape)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


def _node(op, inputs, outputs):
    return b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs) + _str(4, op)


def model_bytes(n):
    """The serialized ModelProto (IR version 8, opset 17)."""
    w1 = [((i * 37) % 101 - 50) / 500.0 for i in range(n * n)]
    w2 = [((i * 53) % 103 - 51) / 500.0 for i in range(n * n)]
    graph = (
        _bytes(1, _node("MatMul", ["X", "W1"], ["H"]))
        + _bytes(1, _node("Relu", ["H"], ["R"]))
        + _bytes(1, _node("MatMul", ["R", "W2"], ["Y"]))
        + _str(2, "arena_sweep_tiny")
        + _bytes(5, _tensor("W1", [n, n], w1))
        + _bytes(5, _tensor("W2", [n, n], w2))
        + _bytes(11, _value_info("X", ["batch", n]))
        + _bytes(12, _value_info("Y", ["batch", n]))
    )
    opset = _str(1, "") + _int(2, 17)
    return _int(1, 8) + _str(2, "arena-sweep") + _bytes(7, graph) + _bytes(8, opset)

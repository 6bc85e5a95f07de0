"""A fitted model as an ONNX graph, so it can be served where there is no Python
(onnxruntime in C++, Java, C#, JavaScript; databases and stream processors with ONNX).

The graph is the model's prediction rule and nothing else::

    X (N, d) ─ MatMul coef ─ Add intercept ─ z ─┬─ Sigmoid → [1 − p, p]  (two classes)
                                                ├─ Softmax              (K > 2 classes)
                                                └─ z > 0 / ArgMax → Gather classes → label

Inputs are float64 by default (the probabilities then match ``predict_proba`` to
rounding); ``dtype="float32"`` makes a graph for float32 callers. The features are one
tensor whose columns are in the order of ``feature_names_in_``, which the graph's
metadata and doc string list. onnx is an optional dependency
(``pip install "dasklr[onnx]"``): it is the format's own writer and checker, and nothing
else in dasklr needs it.
"""

import json
import os
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from dasklr.errors import ConfigError
from dasklr.remote import write_file

#: The opset the graph is written for: Softmax's per-axis meaning (13+) and wide support.
OPSET = 17
#: The IR version that goes with OPSET, so that runtimes older than this onnx can read it.
IR_VERSION = 8
DTYPES = ("float64", "float32")


def check_onnx_available() -> None:
    """Refuse, before any work, an export that could not be written: onnx missing."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ConfigError('ONNX export needs onnx: pip install "dasklr[onnx]" (or onnx)') from None


def to_onnx(model, *, dtype: str = "float64"):
    """The ``onnx.ModelProto`` of a fitted model: input ``X`` (N, d), outputs ``label``
    (N,) and ``probabilities`` (N, K) in the order of ``classes_``. With categorical
    columns, ``X`` is the one-hot design: one column per name of ``feature_names_in_``
    (``column[level]`` is 1 for a row of that level, all 0 for the reference level).

    Examples
    --------
    >>> import numpy as np, onnxruntime
    >>> from dasklr import LogisticRegression
    >>> from dasklr.estimators.onnx_export import to_onnx
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> model = LogisticRegression(alpha=0.1).fit(X, y)
    >>> session = onnxruntime.InferenceSession(to_onnx(model).SerializeToString())
    >>> label, proba = session.run(None, {"X": X})
    >>> bool(np.allclose(proba, model.predict_proba(X), atol=1e-12))
    True
    """
    check_onnx_available()
    import onnx
    from onnx import TensorProto, helper

    if not hasattr(model, "coef_"):
        raise ValueError("cannot export a model that is not fitted")
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    coef = np.asarray(model.coef_, dtype=dtype)
    classes = np.asarray(model.classes_)
    n_features = coef.shape[1]
    elem = TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT
    nodes, initializers, label_elem = _prediction_rule(coef, model.intercept_, classes, dtype)
    names = _feature_names(model, n_features)
    graph = helper.make_graph(
        nodes,
        "dasklr_logistic_regression",
        [helper.make_tensor_value_info("X", elem, ["N", n_features])],
        [
            helper.make_tensor_value_info("label", label_elem, ["N"]),
            helper.make_tensor_value_info("probabilities", elem, ["N", len(classes)]),
        ],
        initializer=initializers,
        doc_string="X columns, in order: " + ", ".join(names),
    )
    proto = helper.make_model(
        graph,
        producer_name="dasklr",
        producer_version=_dasklr_version(),
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        doc_string="Logistic regression trained by dasklr.",
    )
    helper.set_model_props(
        proto,
        {"feature_names": json.dumps(names), "classes": json.dumps(classes.tolist())},
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _prediction_rule(coef: np.ndarray, intercept, classes: np.ndarray, dtype: str):
    """The graph's nodes and constants (see the module docstring), and the label type."""
    from onnx import TensorProto, helper, numpy_helper

    label_values, label_elem = _label_tensor(classes)
    initializers = [
        numpy_helper.from_array(np.ascontiguousarray(coef.T), "coef"),
        numpy_helper.from_array(np.asarray(intercept, dtype=dtype), "intercept"),
        numpy_helper.from_array(label_values, "classes"),
    ]
    nodes = [
        helper.make_node("MatMul", ["X", "coef"], ["product"]),
        helper.make_node("Add", ["product", "intercept"], ["z"]),
    ]
    if coef.shape[0] == 1:  # σ(z) and 1 − σ(z), as predict_proba; class 1 where z > 0
        initializers += [
            numpy_helper.from_array(np.ones((1,), dtype=dtype), "one"),
            numpy_helper.from_array(np.zeros((1,), dtype=dtype), "zero"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "last_axis"),
        ]
        nodes += [
            helper.make_node("Sigmoid", ["z"], ["p1"]),
            helper.make_node("Sub", ["one", "p1"], ["p0"]),
            helper.make_node("Concat", ["p0", "p1"], ["probabilities"], axis=1),
            helper.make_node("Greater", ["z", "zero"], ["positive"]),
            helper.make_node("Squeeze", ["positive", "last_axis"], ["positive_row"]),
            helper.make_node("Cast", ["positive_row"], ["index"], to=TensorProto.INT64),
        ]
    else:
        nodes += [
            helper.make_node("Softmax", ["z"], ["probabilities"], axis=1),
            helper.make_node("ArgMax", ["z"], ["index"], axis=1, keepdims=0),
        ]
    nodes.append(helper.make_node("Gather", ["classes", "index"], ["label"], axis=0))
    return nodes, initializers, label_elem


def export_onnx(
    model, path: str | os.PathLike, *, dtype: str = "float64", overwrite: bool = False
) -> str:
    """Write ``to_onnx(model)`` to the file ``path``, local or an fsspec URL (on disk
    written under a temporary name and renamed into place, at a URL one whole-object
    write: never half a file where the graph is expected). Returns where it went."""
    data = to_onnx(model, dtype=dtype).SerializeToString()
    return write_file(path, data, overwrite=overwrite)


def _dasklr_version() -> str:
    try:
        return version("dasklr")
    except PackageNotFoundError:  # a source tree that is not installed
        return "0+unknown"


def _label_tensor(classes: np.ndarray):
    """The classes as a constant the graph can Gather from: int64, double or string."""
    from onnx import TensorProto

    if classes.dtype.kind in "iub":
        return classes.astype(np.int64), TensorProto.INT64
    if classes.dtype.kind == "f":
        return classes.astype(np.float64), TensorProto.DOUBLE
    return np.array([str(c) for c in classes], dtype=object), TensorProto.STRING


def _feature_names(model, n_features: int) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return [f"x{i}" for i in range(n_features)]
    return [str(name) for name in names]

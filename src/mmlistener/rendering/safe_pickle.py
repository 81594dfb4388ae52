"""Read FLAME's model pickle without running code from it and without chumpy.

`generic_model.pkl` is a Python 2 pickle of numpy arrays, chumpy arrays (`chumpy.ch.Ch`) and one scipy CSC
sparse matrix. chumpy no longer imports with numpy >= 1.24, and a plain `pickle.load` would run whatever a
tampered file names. `RestrictedUnpickler.find_class` therefore admits only an allow-list: numpy's array and
scalar reconstruction and dtypes, the few builtins their pickles use, and stubs standing in for chumpy's `Ch`
and scipy's `csc_matrix` that keep the arrays and nothing else. Any other name (`os.system`, `eval`, ...) is
refused before anything is called.
"""

import codecs
import copyreg
import pickle

import numpy as np
from numpy._core.multiarray import _reconstruct, scalar


class ChumpyArray:
    """Stands in for a pickled `chumpy.ch.Ch`: keeps its value (`x`) as `array`, drops the rest of its state."""

    def __setstate__(self, state):
        value = state.get("x") if isinstance(state, dict) else None
        if not isinstance(value, np.ndarray):
            raise ValueError("a chumpy object in the pickle holds no array in its 'x' (not a FLAME model file?)")
        self.array = value


class SparseCSC:
    """Stands in for a pickled `scipy.sparse.csc_matrix`: keeps `data`, `indices`, `indptr` and the shape."""

    def __setstate__(self, state):
        try:
            self.data, self.indices, self.indptr = (np.asarray(state[key]) for key in ("data", "indices", "indptr"))
            self.shape = tuple(int(n) for n in state.get("_shape", state.get("shape")))
        except (KeyError, TypeError) as error:
            raise ValueError(f"a sparse matrix in the pickle lacks its arrays ({error})") from None

    def toarray(self) -> np.ndarray:
        """The dense matrix `(rows, columns)`."""
        rows, columns = self.shape
        if len(self.indptr) != columns + 1 or len(self.indices) != len(self.data) or self.indptr[-1] > len(self.data):
            raise ValueError(f"inconsistent CSC arrays for a {self.shape} sparse matrix")
        dense = np.zeros(self.shape)
        column_of = np.repeat(np.arange(columns), np.diff(self.indptr))
        np.add.at(dense, (self.indices[: len(column_of)], column_of), self.data[: len(column_of)])
        return dense


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """`_codecs.encode` as Python 3 pickles of bytes use it (latin-1 only)."""
    if encoding not in ("latin1", "latin-1"):
        raise ValueError(f"refused _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


def _both(modules: tuple[str, ...], name: str, target) -> dict:
    return {(module, name): target for module in modules}


NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
SPARSE = ("scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse")
ALLOWED = {
    **_both(NUMPY_CORE, "_reconstruct", _reconstruct),
    **_both(NUMPY_CORE, "scalar", scalar),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **_both(("copy_reg", "copyreg"), "_reconstructor", copyreg._reconstructor),
    **_both(("__builtin__", "builtins"), "object", object),
    **_both(("__builtin__", "builtins"), "set", set),
    ("_codecs", "encode"): _latin1_bytes,
    ("chumpy.ch", "Ch"): ChumpyArray,
    **_both(SPARSE, "csc_matrix", SparseCSC),
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names of `ALLOWED` and raises `ValueError` on any other."""

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise ValueError(
                f"refused to load {module}.{name}: the FLAME model pickle may only hold numpy arrays, chumpy "
                "arrays and scipy CSC matrices (is this FLAME 2020's generic_model.pkl from "
                "https://flame.is.tue.mpg.de?); nothing from the file was run"
            ) from None


def load_restricted(path: str):
    """Unpickle `path` (Python 2 pickles included) with `RestrictedUnpickler`."""
    with open(path, "rb") as handle:
        return RestrictedUnpickler(handle, encoding="latin1").load()


__all__ = ["ALLOWED", "ChumpyArray", "RestrictedUnpickler", "SparseCSC", "load_restricted"]

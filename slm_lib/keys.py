"""Id lookups shared by validation and metrics: where each id of one table sits in another."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def _arrow(values: pd.Series) -> pa.Array:
    arr = pa.array(values, from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def lookup_positions(keys: pd.Series, query: pd.Series) -> np.ndarray:
    """Row position in ``keys`` (unique ids) of each ``query`` value, -1 when absent or missing.

    Hash join built on the smaller side. A short query (survey ids against tickets) is
    hashed once (Arrow dictionary encoding) and every key probes it; a long one (ticket
    events against tickets) probes a hash of the keys (``pyarrow.compute.index_in`` both
    ways). Falls back to one ``pandas.factorize`` of both columns when Arrow cannot
    compare the two types.

    Examples
    --------
    >>> lookup_positions(pd.Series(["a", "b"]), pd.Series(["b", "z", None])).tolist()
    [1, -1, -1]
    """
    try:
        ka, qa = _arrow(keys), _arrow(query)
        if len(query) > len(keys):
            found = pc.index_in(qa.cast(ka.type), value_set=ka, skip_nulls=True)
            return found.fill_null(-1).to_numpy().astype(np.int64)
        encoded = qa.cast(ka.type).dictionary_encode()
        hit = pc.index_in(ka, value_set=encoded.dictionary)
    except (pa.ArrowException, TypeError):  # types Arrow cannot compare: fall back to factorize
        codes, _ = pd.factorize(pd.concat([keys, query], ignore_index=True))
        q = codes[len(keys):]
        return np.where((q >= 0) & (q < len(keys)), q, -1).astype(np.int64)
    if len(encoded.dictionary) == 0:
        return np.full(len(query), -1, dtype=np.int64)
    row_of_value = np.full(len(encoded.dictionary), -1, dtype=np.int64)
    row_of_value[hit.drop_null().to_numpy()] = np.flatnonzero(hit.is_valid().to_numpy(zero_copy_only=False))
    code = encoded.indices.fill_null(-1).to_numpy().astype(np.int64)
    return np.where(code >= 0, row_of_value[np.maximum(code, 0)], -1)

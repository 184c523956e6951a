#!/usr/bin/env python3
"""Writes the malformed NIR files of this folder (a development tool: run once with Debian's
python3-h5py; the files are committed and the tests need no Python). Each file breaks one
rule of the file format (the rules about nodes, shapes and values are tested on documents
test_nir.c builds and writes itself); test_nir.c lists the message each must give. They are built the way the
reference writer (nir.write) lays files out: plain HDF5, vlen UTF-8 strings, no attributes."""
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
S = h5py.string_dtype()


def put(g, name, value):
    if isinstance(value, str):
        g.create_dataset(name, data=value, dtype=S)
    else:
        g.create_dataset(name, data=value)


def write(fname, nodes, edges, version="1.0.7", top_type="NIRGraph", graph_extra=None):
    with h5py.File(os.path.join(HERE, fname), "w", libver="latest") as f:
        put(f, "version", version)
        g = f.create_group("node")
        put(g, "type", top_type)
        ng = g.create_group("nodes")
        for key, fields in nodes.items():
            n = ng.create_group(key)
            for k, v in fields.items():
                if isinstance(v, dict):
                    sub = n.create_group(k)
                    for kk, vv in v.items():
                        put(sub, kk, vv)
                else:
                    put(n, k, v)
        g.create_dataset("edges", data=np.array(edges, dtype=object), dtype=S)
        for k, v in (graph_extra or {}).items():
            put(g, k, v)


f32 = np.float32


def lif(n=2, **kw):
    d = dict(type="LIF", tau=np.full(n, 0.01, f32), r=np.ones(n, f32), v_leak=np.zeros(n, f32),
             v_threshold=np.ones(n, f32), v_reset=np.zeros(n, f32))
    d.update(kw)
    return {k: v for k, v in d.items() if v is not None}


def chain(mid, n_in=3, n_out=2):
    nodes = {"input": dict(type="Input", shape=np.array([n_in])),
             "fc": dict(type="Affine", weight=np.ones((n_out, n_in), f32), bias=np.zeros(n_out, f32))}
    nodes.update(mid)
    nodes["output"] = dict(type="Output", shape=np.array([n_out]))
    keys = list(nodes)
    return nodes, [[keys[i], keys[i + 1]] for i in range(len(keys) - 1)]


with open(os.path.join(HERE, "not_hdf5.nir"), "w") as f:
    f.write("NIR graphs are HDF5 files; this one is text.\n")

nodes, edges = chain({"lif": lif(r=np.ones(2, bool))})
write("lif_bool_r.nir", nodes, edges)
nodes, edges = chain({"lif": lif()})
del nodes["lif"]["type"]
write("missing_type.nir", nodes, edges)
with h5py.File(os.path.join(HERE, "no_node_group.nir"), "w", libver="latest") as f:
    put(f, "version", "1.0.7")
nodes, edges = chain({"lif": lif()})
write("top_not_a_graph.nir", nodes, edges, top_type="LIF")
nodes, edges = chain({"lif": lif()})
with h5py.File(os.path.join(HERE, "edges_numbers.nir"), "w", libver="latest") as f:
    put(f, "version", "1.0.7")
    g = f.create_group("node")
    put(g, "type", "NIRGraph")
    ng = g.create_group("nodes")
    for key, fields in nodes.items():
        n = ng.create_group(key)
        for k, v in fields.items():
            put(n, k, v)
    g.create_dataset("edges", data=np.zeros((3, 2), np.int64))
inner_nodes, inner_edges = chain({"lif": lif()})
nodes = {"input": dict(type="Input", shape=np.array([3])),
         "sub": dict(type="NIRGraph", nodes=None),
         "output": dict(type="Output", shape=np.array([2]))}
with h5py.File(os.path.join(HERE, "nested_graph.nir"), "w", libver="latest") as f:
    put(f, "version", "1.0.7")
    g = f.create_group("node")
    put(g, "type", "NIRGraph")
    ng = g.create_group("nodes")
    for key in ("input", "output"):
        n = ng.create_group(key)
        for k, v in nodes[key].items():
            put(n, k, v)
    sub = ng.create_group("sub")
    put(sub, "type", "NIRGraph")
    sn = sub.create_group("nodes")
    for key, fields in inner_nodes.items():
        n = sn.create_group(key)
        for k, v in fields.items():
            put(n, k, v)
    sub.create_dataset("edges", data=np.array(inner_edges, dtype=object), dtype=S)
    g.create_dataset("edges", data=np.array([["input", "sub"], ["sub", "output"]], dtype=object),
                     dtype=S)
# a valid file cut short
src = os.path.join(HERE, "lif_bool_r.nir")
with open(src, "rb") as f:
    data = f.read()
with open(os.path.join(HERE, "truncated.nir"), "wb") as f:
    f.write(data[: len(data) // 2])

"""Adapters to the reference implementations the torch transforms are checked against.

- :mod:`.nsgt_sliced`: the ``nsgt`` package's sliced transform (numpy), with a numpy-2 shim
  and the Bark / variable-Q scales it lacks; used by the tests and the speed benchmark.
- :mod:`.essentia_nsgcq`: essentia's ``NSGConstantQ`` behind the ``Transform`` interface
  (spec kind ``nsgcq``, built lazily by :func:`tfselect.transforms.build`).

They sit apart from :mod:`tfselect.transforms` because they are slow references, not the
product's transforms; nothing in the product's hot paths imports them.
"""

"""Random Cut Forest: AWS's algorithm as SageMaker's built-in RCF runs it, for the local backend.

``hyperparameters`` (SageMaker's names, ranges and defaults), ``kernels`` (the compiled tree
code: reservoir sampling, building, scoring, attribution), ``forest`` (the model API),
``data`` (headerless numeric CSV, SageMaker's ``text/csv;label_size=0``), ``artifact``
(``model.tar.gz``), ``protocol`` (SageMaker RCF's inference formats) and ``jobs`` (train and
batch score, the CLI's entry points). docs/rcf.md says why the trees are lakewatch's own code
and how they were checked against AWS's Rust implementation.
"""

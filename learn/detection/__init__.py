"""Face detection with bounding boxes on encoded scenes (the paper's Experiment 3, issue 6).

Modules: :mod:`scenes` (the synthetic scene data set), :mod:`annotations` (WIDER FACE, FDDB and
COCO files), :mod:`detector` (a small CenterNet-style heat-map detector), :mod:`metrics` (AP and
FDDB's discrete ROC), :mod:`experiment` (the comparison of clean, blur, pixelate and CAnOPICs) and
:mod:`plots` (figures like the paper's Fig. 6). See docs/detection.md.
"""

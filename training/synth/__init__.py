"""Procedural chest radiographs with ground-truth masks (numpy/scipy only; see docs/SYNTH.md).

Modules, in drawing order: ``patient`` (parameters from a seed), ``frame`` (pixel grid in mm and
shape primitives), ``anatomy``/``bones``/``vessels`` (frontal anatomy as path lengths),
``context``/``lesions_lung``/``lesions_focal`` (findings and masks), ``lateral``/``lateral_findings``
(the lateral view), ``render`` (detector model), ``study`` (one study), ``spec`` (report text ->
finding specs), ``dicom_out`` (DICOM, SR, masks); ``demo`` and ``montage`` regenerate the bundled
demo studies and the docs figure. The paired data set is built by :mod:`training.paired`.
"""

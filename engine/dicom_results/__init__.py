"""AI results as standard DICOM (highdicom): SR TID 1500 findings, heatmap Segmentations, reading back.

``sr`` writes one Comprehensive 3D SR per analysed image, ``seg`` heatmaps as a fractional
Segmentation, ``save`` both for one analysis, ``scan_output`` them for every record of a scan, and
``read`` turns SRs, Segmentations and Parametric Maps (ours or another tool's) back into findings and
maps. ``codes`` holds the label codes and the deterministic UIDs; ``source`` the source header and the
pack's identity. ``template`` (with ``template_parts``, ``sr_template``, ``seg_template``) writes them fast:
highdicom's build for placeholder values, encoded once with holes, filled per image.
docs/DICOM_RESULTS.md describes the objects.

May import: errors, checksums, images, model, predict, explain (tests/engine/test_boundaries.py).
Nothing here imports Qt; highdicom loads on first use.
"""

"""AI results as standard DICOM: SR TID 1500 findings and fractional Segmentation heatmaps (highdicom).

Writers: :func:`engine.dicom_results.sr.write_sr`, :func:`engine.dicom_results.seg.write_heatmap_seg`;
reader: :mod:`engine.dicom_results.read`. Codes and deterministic UIDs: :mod:`engine.dicom_results.codes`.
Nothing here imports Qt; highdicom and pydicom load on first use.
"""

"""Dataset adapters: turn a public chest X-ray set or a DICOM archive into a training manifest CSV.

One module per format (``nih14``, ``chexpert``, ``mimic``, ``openi``, ``dicom_folder``), each with
``collect(args) -> Collected``; :mod:`training.manifest.common` maps labels, splits by patient and
writes the CSV with its summary; :mod:`training.manifest.step` is ``python -m training manifest``.
May import engine and the other training modules; nothing imports it but the step table and tests.
"""

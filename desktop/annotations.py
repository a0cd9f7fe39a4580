"""Text shown about an image: names and dates formatted for reading, corner annotations."""
from __future__ import annotations


def format_date(dicom_date: str) -> str:
    """``YYYYMMDD`` → ``YYYY-MM-DD`` (other text unchanged)."""
    if len(dicom_date) == 8 and dicom_date.isdigit():
        return f"{dicom_date[:4]}-{dicom_date[4:6]}-{dicom_date[6:]}"
    return dicom_date


def format_name(name: str) -> str:
    """DICOM person name ``Family^Given`` → ``Family, Given``."""
    parts = [p for p in name.split("^") if p]
    return ", ".join(parts[:2]) + (" " + " ".join(parts[2:]) if len(parts) > 2 else "")


def corner_texts(image, frame: int) -> dict[str, str]:
    """Corner annotations: patient (top left), acquisition (top right), image (bottom left)."""
    patient = (format_name(image.patient_name), f"ID {image.patient_id}" if image.patient_id else "",
               format_date(image.study_date), image.study_description)
    acquisition = " ".join(t for t in (image.modality, image.view_position, image.laterality) if t)
    instance = f"Image {image.instance_number}" if image.instance_number is not None else ""
    frames = f"Frame {frame + 1}/{image.number_of_frames}" if image.number_of_frames > 1 else ""
    spacing = image.pixel_spacing_mm
    size = f"{image.columns} × {image.rows}  " + (
        f"{spacing[1]:.3f} × {spacing[0]:.3f} mm/px" if spacing else "no pixel spacing")
    return {"tl": "\n".join(t for t in patient if t),
            "tr": "\n".join(t for t in (acquisition, image.series_description, instance, frames) if t),
            "bl": size}

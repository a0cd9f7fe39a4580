"""Label set: names and order are a contract; the MeSH mapping follows docs/LABELS.md."""
from __future__ import annotations

import pytest

from engine.reports.labels import FINDING_NAMES, LABEL_NAMES, LABELS, NO_FINDING, find_label, labels_from_mesh


def test_names_and_order_are_stable():
    assert LABEL_NAMES == (
        "Atelectasis", "Cardiomegaly", "Effusion", "Edema", "Pneumonia", "Opacity", "Nodule", "Mass",
        "Granuloma", "Emphysema", "Pneumothorax", "Fracture", "Hernia", "Pleural Thickening", "Fibrosis",
        "Support Devices", "No Finding")
    assert FINDING_NAMES == LABEL_NAMES[:-1] and NO_FINDING == LABEL_NAMES[-1]
    assert len({label.colour for label in LABELS}) == len(LABELS)


@pytest.mark.parametrize("terms, expected", [
    (["Pleural Effusion/right/small"], {"Effusion"}),
    (["Thickening/pleura/apex/left"], {"Pleural Thickening"}),          # not Effusion
    (["Thickening/bronchovascular"], {NO_FINDING}),                      # not pleural
    (["Cicatrix/pleura/right"], {"Pleural Thickening"}),                 # pleural, not lung, scarring
    (["Cicatrix/lung/base/left"], {"Fibrosis"}),
    (["Calcinosis/aorta"], {NO_FINDING}),                                # vascular, not granuloma
    (["Calcinosis/lung/hilum/lymph nodes/right"], {"Granuloma"}),
    (["Subcutaneous Emphysema/neck"], {NO_FINDING}),
    (["Pulmonary Disease, Chronic Obstructive"], {"Emphysema"}),
    (["Hydropneumothorax/right"], {"Effusion", "Pneumothorax"}),
    (["Cardiac Shadow/enlarged/mild", "Cardiomegaly/mild"], {"Cardiomegaly"}),
    (["Density/ribs/left"], {NO_FINDING}),
    (["Density/lung/lingula"], {"Opacity"}),
    (["Surgical Instruments/abdomen/right"], {NO_FINDING}),              # clips are not support devices
    (["Catheters, Indwelling/right", "Stents/coronary vessels"], {"Support Devices"}),
    (["normal"], {NO_FINDING}),
    (["No Indexing"], {NO_FINDING}),
    ([" hernia,  hiatal /large"], {"Hernia"}),                           # case and spaces ignored
])
def test_labels_from_mesh(terms, expected):
    assert labels_from_mesh(terms) == expected


def test_find_label():
    assert find_label("pleural_thickening").name == "Pleural Thickening"
    with pytest.raises(KeyError, match="valid labels"):
        find_label("tumour")

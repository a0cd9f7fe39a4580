"""Labeler polarity: the sentence kinds of issue 15 part 3, each with several sentences of our own.

Every sentence was written for these tests (none is copied from Open-i). ``None`` as the expected
status means the label must be absent (not mentioned as a finding of this study).
"""
from __future__ import annotations

import pytest

from engine.reports.labeler import label_text


def status(text: str, label: str) -> str | None:
    return label_text(text).labels.get(label)


@pytest.mark.parametrize("text, label, expected", [
    # a negation does not reach past a clause that asserts the finding
    ("Lucency at the apex without lung markings, consistent with pneumothorax.", "Pneumothorax", "positive"),
    ("No vascular markings, compatible with a pneumothorax.", "Pneumothorax", "positive"),
    ("Absence of lung markings lateral to the pleural line, indicating a left pneumothorax.", "Pneumothorax",
     "positive"),
    ("Peripheral lucency without lung markings consistent with pneumothorax.", "Pneumothorax", "positive"),
    ("No pneumothorax, consistent with removal of the chest tube.", "Pneumothorax", "negative"),
    # …and a hedge in the asserting clause still hedges
    ("Absent markings which suggests pneumothorax.", "Pneumothorax", "uncertain"),
    ("Right apical lucency without visible lung markings, suggesting a small pneumothorax.", "Pneumothorax",
     "uncertain"),
    ("No lung markings at the left apex, likely a small pneumothorax.", "Pneumothorax", "uncertain"),
    # where the negated words name a finding or a generic finding, the negation still covers
    ("No focal opacity consistent with pneumonia.", "Pneumonia", "negative"),
    ("No findings consistent with pneumonia.", "Pneumonia", "negative"),
    ("There is no consolidation to suggest pneumonia.", "Pneumonia", "negative"),
    ("Clear lungs without consolidation consistent with pneumonia.", "Pneumonia", "negative"),
    ("No focal consolidation, suspicious nodule, pleural effusion, or pneumothorax.", "Nodule", "negative"),
])
def test_negation_stops_at_a_clause_that_asserts_the_finding(text, label, expected):
    assert status(text, label) == expected


@pytest.mark.parametrize("text, label, expected", [
    # "no new X" negates X in its sentence (an old X counts only where the report asserts it)
    ("No new opacity.", "Opacity", "negative"),
    ("No new focal consolidation or pleural effusion.", "Opacity", "negative"),
    ("No new focal consolidation or pleural effusion.", "Effusion", "negative"),
    ("No new or increasing effusion.", "Effusion", "negative"),
    ("Stable left basilar opacity. No new opacity.", "Opacity", "positive"),
    ("No new nodules, the known right upper lobe nodule is stable.", "Nodule", "positive"),
    ("No new opacity, stable left basilar scarring.", "Fibrosis", "positive"),
    ("No pleural effusion, pneumothorax, or the previously described consolidation.", "Opacity", "negative"),
    # an old X said to be still there is present now, whatever the wording of the comparison
    ("No significant change in the moderate left pleural effusion.", "Effusion", "positive"),
    ("No significant interval change in the small right apical pneumothorax.", "Pneumothorax", "positive"),
    ("No interval enlargement of the right lower lobe nodule.", "Nodule", "positive"),
    ("No definite interstitial changes of pulmonary edema.", "Edema", "negative"),
    # …but a change word that is the finding is negated with it
    ("No cardiac enlargement.", "Cardiomegaly", "negative"),
    ("No enlargement of the heart.", "Cardiomegaly", "negative"),
    # X is not seen / no longer seen / not visible
    ("The left pleural effusion is not seen.", "Effusion", "negative"),
    ("The right upper lobe nodule is no longer seen.", "Nodule", "negative"),
    ("The right lower lobe nodule is not visible on this study.", "Nodule", "negative"),
    ("The pneumothorax is not apparent today.", "Pneumothorax", "negative"),
    ("Left apical pneumothorax, no longer seen.", "Pneumothorax", "negative"),
    ("Small left pneumothorax, not seen today.", "Pneumothorax", "negative"),
    # no residual X
    ("No residual pneumothorax.", "Pneumothorax", "negative"),
    ("No residual or recurrent pleural effusion.", "Effusion", "negative"),
    ("No residual consolidation in the right lower lobe.", "Opacity", "negative"),
])
def test_new_unchanged_unseen_and_residual(text, label, expected):
    assert status(text, label) == expected


@pytest.mark.parametrize("text, label, expected", [
    # another study: what it showed counts only by what this study is said to show
    ("The right pleural effusion seen on the prior CT is not seen today.", "Effusion", "negative"),
    ("The nodule described on the outside CT is not visualized.", "Nodule", "negative"),
    ("The left lower lobe opacity seen on the previous radiograph has resolved.", "Opacity", "negative"),
    ("The nodule seen on the prior CT is not well seen on this radiograph.", "Nodule", None),
    ("Comparison CT showed a small right pneumothorax.", "Pneumothorax", None),
    ("The nodule seen on the prior CT is again seen.", "Nodule", "positive"),
    ("The effusion noted on the previous study has increased.", "Effusion", "positive"),
    ("New right lower lobe opacity, not seen on the prior study.", "Opacity", "positive"),
    ("Left apical opacity consistent with radiation change seen on the prior CT.", "Opacity", "positive"),
    ("Retrocardiac opacity, also present on the previous exam.", "Opacity", "positive"),
    ("Stable right upper lobe nodule as seen on the prior CT.", "Nodule", "positive"),
    ("Compared with the prior study there is a new left effusion.", "Effusion", "positive"),
    # a prior acute process is over; a prior chronic one left what is seen now
    ("Previous right lower lobe pneumonia.", "Pneumonia", None),
    ("Prior left pneumothorax.", "Pneumothorax", None),
    ("The prior left effusion is again seen.", "Effusion", "positive"),
    ("Prior granulomatous infection.", "Granuloma", "positive"),
    ("Old healed left rib fractures.", "Fracture", "positive"),
    # history of X
    ("History of pneumonia.", "Pneumonia", None),
    ("Known history of COPD.", "Emphysema", None),
    ("Patient with a history of left lower lobe pneumonia.", "Pneumonia", None),
    ("History of left lower lobe pneumonia, now with a new right upper lobe opacity.", "Pneumonia", None),
    ("History of left lower lobe pneumonia, now with a new right upper lobe opacity.", "Opacity", "positive"),
    ("Hyperinflation consistent with a history of COPD.", "Emphysema", "positive"),
    # X has resolved
    ("The pneumonia has resolved.", "Pneumonia", "negative"),
    ("Right lower lobe pneumonia, now resolved.", "Pneumonia", "negative"),
    ("The left effusion, which has since resolved, was small.", "Effusion", "negative"),
    ("Interval resolution of the right upper lobe consolidation.", "Opacity", "negative"),
])
def test_history_and_other_studies_are_not_positive_now(text, label, expected):
    assert status(text, label) == expected


@pytest.mark.parametrize("text, label, expected", [
    # an infection that left granulomas, its sequelae, or one of another organ is not pneumonia
    ("Calcified granulomas from old granulomatous/histoplasmosis infection.", "Pneumonia", None),
    ("Calcified granulomas from old granulomatous/histoplasmosis infection.", "Granuloma", "positive"),
    ("Calcified hilar nodes, consistent with prior tuberculous infection.", "Pneumonia", None),
    ("Scattered granulomas, sequelae of remote infection.", "Pneumonia", None),
    ("Clinical concern for urinary tract infection; the lungs are clear.", "Pneumonia", None),
    ("No bony erosions to suggest osseous infection.", "Pneumonia", None),
    ("Right lower lobe opacity concerning for infection.", "Pneumonia", "uncertain"),
    ("Patchy consolidation consistent with infection.", "Pneumonia", "positive"),
    ("This may represent reactivation of tuberculosis or other infection.", "Pneumonia", "uncertain"),
    # a nodular density weighed against a mimic is a possible nodule, not nothing
    ("Nodular density, likely a nipple shadow.", "Nodule", "uncertain"),
    ("Nodular density in the right lower lung, likely a nipple shadow.", "Nodule", "uncertain"),
    ("Small nodular opacity in the left midlung, probably overlapping vessels.", "Nodule", "uncertain"),
    ("Small nodular opacity in the left midlung, probably overlapping vessels.", "Opacity", "uncertain"),
    ("Nodular density at the right base; nipple markers are recommended.", "Nodule", "uncertain"),
    ("Nodular density at the right base, consistent with a nipple shadow.", "Nodule", "negative"),
    # without a mimic a nodular opacity stays an opacity, not yet a nodule; over a bone it is neither
    ("Nodular opacity in the right upper lobe.", "Nodule", None),
    ("Nodular opacity in the right upper lobe.", "Opacity", "positive"),
    ("Nodular density over the right fifth rib, likely overlapping vessels.", "Nodule", None),
])
def test_words_that_are_not_the_finding(text, label, expected):
    assert status(text, label) == expected


@pytest.mark.parametrize("text, label, expected", [
    ("Right base opacity, likely atelectasis.", "Atelectasis", "uncertain"),
    ("Right base opacity, likely atelectasis.", "Opacity", "positive"),
    ("Left lower lobe opacity concerning for pneumonia.", "Pneumonia", "uncertain"),
    ("The appearance suggests early pulmonary edema.", "Edema", "uncertain"),
    ("Atelectasis versus pneumonia at the left base.", "Pneumonia", "uncertain"),
    ("Atelectasis versus pneumonia at the left base.", "Atelectasis", "uncertain"),
    ("No effusion; likely scarring at the right apex.", "Fibrosis", "uncertain"),
])
def test_hedges_stay_uncertain(text, label, expected):
    assert status(text, label) == expected


def test_evidence_names_the_trigger_that_decided():
    found = {e.label: e for e in label_text("Right lower lobe pneumonia, now resolved. Nodular density, likely "
                                            "a nipple shadow. The nodule seen on the prior CT is again seen.").evidence
             if e.label in ("Pneumonia", "Nodule")}
    assert found["Pneumonia"].trigger == ", now resolved"
    nodules = [e for e in label_text("Nodular density, likely a nipple shadow.").evidence if e.label == "Nodule"]
    assert [(e.status, e.trigger) for e in nodules] == [("uncertain", ", likely a nipple shadow")]
    again = [e for e in label_text("The nodule seen on the prior CT is again seen.").evidence]
    assert [(e.label, e.status, e.trigger) for e in again] == [("Nodule", "positive", "again seen")]

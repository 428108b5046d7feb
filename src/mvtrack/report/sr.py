"""A study's results as a DICOM Structured Report (TID 1500 Measurement Report, with highdicom), so
that MAPSE and s', e', a' can go back to PACS beside the images they were measured on.

Content: one measurement group for the study (the views that passed QC) and one per tracked view,
each with MAPSE (mm) and s', e', a' (cm/s, UCUM units) where QC stands behind them (a withheld
number is left out, never written as 0), the QC verdict as a qualitative evaluation, the finding site
(mitral annulus, SNOMED CT 65197004) and the algorithm (mvtrack, its version and the model's network
ids). The evidence lists every source image, so the SR references the series it was measured on.

Codes: MAPSE is DICOM's "Excursion Distance" (DCM 125327); s', e' and a' have no standard code for
MV-plane velocities from cine MRI and use the local scheme ``99MVTRACK`` (see :data:`VELOCITY_CODES`).
"""

from __future__ import annotations

from pathlib import Path

from mvtrack.errors import MvtrackError

LOCAL_SCHEME = "99MVTRACK"
#: result key -> (code value, meaning) in the local scheme
VELOCITY_CODES = {
    "s_prime_cm_s": ("MVT-SPRIME", "MV plane peak systolic velocity (s')"),
    "e_prime_cm_s": ("MVT-EPRIME", "MV plane peak early diastolic velocity (e')"),
    "a_prime_cm_s": ("MVT-APRIME", "MV plane peak late (atrial) diastolic velocity (a')"),
}
#: Patient and study attributes an SR must carry (empty allowed); anonymised exports often drop them.
TYPE2_FROM_EVIDENCE = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                       "ReferringPhysicianName", "StudyID", "AccessionNumber")
QC_NAME = ("MVT-QC", "mvtrack quality control verdict")
QC_VALUES = {True: ("MVT-QC-REVIEW", "Review recommended"), False: ("MVT-QC-PASS", "No QC rule fired")}


def _local(value: str, meaning: str):
    import highdicom as hd

    return hd.sr.CodedConcept(value=value, scheme_designator=LOCAL_SCHEME, meaning=meaning)


def _measurements(metrics: dict, algorithm) -> list:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    site = [hd.sr.FindingSite(anatomic_location=codes.SCT.MitralAnnulus)]
    found = []
    if metrics.get("mapse_mm") is not None:
        found.append(hd.sr.Measurement(name=codes.DCM.ExcursionDistance, value=float(metrics["mapse_mm"]),
                                       unit=codes.UCUM.Millimeter, finding_sites=site, algorithm_id=algorithm))
    for key, (code, meaning) in VELOCITY_CODES.items():
        if metrics.get(key) is not None:
            found.append(hd.sr.Measurement(name=_local(code, meaning), value=float(metrics[key]),
                                           unit=codes.UCUM.CentimeterPerSecond, finding_sites=site, algorithm_id=algorithm))
    return found


def _qc_evaluation(needs_review: bool):
    import highdicom as hd

    return hd.sr.QualitativeEvaluation(name=_local(*QC_NAME), value=_local(*QC_VALUES[bool(needs_review)]))


def build_sr(result: dict, source_paths: dict[str, list[str]]):
    """The SR dataset for a result (the results.json dict) measured on the DICOM files
    ``source_paths`` ({view: paths}). Raises MvtrackError when there is no DICOM source."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    from mvtrack._version import __version__

    evidence_by_view = {}
    for view, paths in source_paths.items():
        try:
            evidence_by_view[view] = [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]
        except Exception as error:  # noqa: BLE001 - NIfTI/npz input, or a file gone since the analysis
            raise MvtrackError(f"no DICOM source for the {view} view ({error.__class__.__name__}): "
                               "a DICOM SR needs DICOM images to refer to") from None
    evidence = [ds for datasets in evidence_by_view.values() for ds in datasets]
    for ds in evidence:  # the SR copies these type-2 attributes (present, possibly empty) from its evidence
        for keyword in TYPE2_FROM_EVIDENCE:
            if keyword not in ds:
                setattr(ds, keyword, "")
    if not evidence:
        raise MvtrackError("no DICOM source images: a DICOM SR needs DICOM images to refer to")
    models = ", ".join(sorted(str(v) for v in result["models"].values()))
    algorithm = hd.sr.AlgorithmIdentification(name="mvtrack", version=__version__, parameters=[models[:64]])
    qc = result.get("qc", {})
    groups = [hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="study: " + "+".join(result.get("study_views", []))),
        finding_sites=[hd.sr.FindingSite(anatomic_location=codes.SCT.MitralAnnulus)],
        algorithm_id=algorithm, measurements=_measurements(result["metrics"], algorithm) or None,
        qualitative_evaluations=[_qc_evaluation(qc.get("needs_review", True))])]
    for view, entry in sorted(result["views"].items()):
        view_flags = [r for r in qc.get("reasons", []) if r.startswith(f"{view}:")]
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"{view} view"),
            finding_sites=[hd.sr.FindingSite(anatomic_location=codes.SCT.MitralAnnulus)],
            algorithm_id=algorithm, measurements=_measurements(entry["metrics"], algorithm) or None,
            qualitative_evaluations=[_qc_evaluation(bool(view_flags))],
            source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(evidence_by_view[view][0])]
            if view in evidence_by_view else None))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name="mvtrack", manufacturer_name="mvtrack", model_name=models[:64]))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=hd.sr.CodedConcept(value="241620005", scheme_designator="SCT",
                                              meaning="Magnetic resonance imaging of heart"),
        imaging_measurements=groups)
    return hd.sr.Comprehensive3DSR(
        evidence=evidence, content=report, series_instance_uid=hd.UID(), series_number=9901,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="mvtrack",
        series_description="mvtrack MV plane measurements", software_versions=f"mvtrack {__version__}",
        is_complete=True)


def write_sr(result: dict, source_paths: dict[str, list[str]], path: Path | str) -> Path:
    """Write :func:`build_sr` to ``path`` (atomically); returns the path. Whatever stops the SR
    (e.g. source images of two different patients or studies) is a MvtrackError: the study's other
    outputs do not depend on it."""
    from mvtrack.io.cine import describe_exception

    try:
        sr = build_sr(result, source_paths)
    except MvtrackError:
        raise
    except Exception as error:  # noqa: BLE001 - highdicom's checks of the content and the evidence
        raise MvtrackError(f"the DICOM SR could not be built ({describe_exception(error)})") from None
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    sr.save_as(tmp, enforce_file_format=True)
    tmp.replace(path)
    return path


def read_sr_measurements(path: Path | str) -> dict[str, dict[str, float | str]]:
    """{group identifier: {measurement meaning: value}} of an SR written by :func:`write_sr`."""
    import highdicom as hd
    import pydicom

    sr = hd.sr.srread(path) if hasattr(hd.sr, "srread") else pydicom.dcmread(path)
    found: dict[str, dict[str, float | str]] = {}
    for container in sr.ContentSequence:
        if container.ValueType != "CONTAINER":
            continue
        for group in container.get("ContentSequence", []):
            if group.ValueType != "CONTAINER":
                continue
            identifier, values = None, {}
            for item in group.get("ContentSequence", []):
                meaning = item.ConceptNameCodeSequence[0].CodeMeaning
                if item.ValueType == "TEXT" and meaning == "Tracking Identifier":
                    identifier = item.TextValue
                elif item.ValueType == "NUM":
                    values[meaning] = float(item.MeasuredValueSequence[0].NumericValue)
                elif item.ValueType == "CODE" and item.ConceptNameCodeSequence[0].CodeValue == QC_NAME[0]:
                    values[QC_NAME[1]] = item.ConceptCodeSequence[0].CodeMeaning
            if identifier is not None:
                found[identifier] = values
    return found

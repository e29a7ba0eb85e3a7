"""Automated red-teaming: seeds, converters, attack generators, detectors, campaigns."""

from haechi.redteam.campaign import CampaignSpec, load_campaign
from haechi.redteam.converters import CONVERTERS, compose, get_converter
from haechi.redteam.detectors import build_detector
from haechi.redteam.report import CampaignReport, build_report, render_html
from haechi.redteam.runner import Campaign, CampaignRun
from haechi.redteam.seed_sets import load_seed_set
from haechi.redteam.taxonomy import CATEGORIES
from haechi.redteam.types import Converter, DetectionInput, Detector, Seed, Verdict

__all__ = [
    "CATEGORIES",
    "CONVERTERS",
    "Campaign",
    "CampaignReport",
    "CampaignRun",
    "CampaignSpec",
    "Converter",
    "DetectionInput",
    "Detector",
    "Seed",
    "Verdict",
    "build_detector",
    "build_report",
    "compose",
    "get_converter",
    "load_campaign",
    "load_seed_set",
    "render_html",
]

"""Where things are, for every test: the repository root and the folders tests read from."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(ROOT, "configs")
TOOLS = os.path.join(ROOT, "tools")
STUDY = os.path.join(ROOT, "projects", "longtail_study")

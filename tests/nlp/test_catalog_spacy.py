"""The spaCy catalog pipeline (bot/nlp): patterns, rebuild-on-change, and Rasa 3.6's spaCy components using it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from bot.db.demo_catalog import load_products
from bot.nlp import DEFAULT_DIR, PRODUCT_LABEL, STAMP_FILE, build_pipeline, catalog_fingerprint, ensure_pipeline
from bot.settings import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "data"


@pytest.fixture(scope="module")
def nlp() -> Language:
    return build_pipeline(load_products(DATA_DIR))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the data folder holding what ensure_pipeline reads (catalog/products.yml)."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR / "catalog", target / "catalog")
    return target


def _products(nlp: Language, text: str) -> list[tuple[str, str]]:
    doc = nlp(text)
    assert all(ent.label_ == PRODUCT_LABEL for ent in doc.ents)
    return [(ent.text, ent.ent_id_) for ent in doc.ents]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("how much is the velo ax3000 in berlin?", ("velo ax3000", "NR-AX3000-EU")),
        ("How much is the Velo AX3000 in Berlin?", ("Velo AX3000", "NR-AX3000-EU")),
        ("is the Nimbus Velo AX3000 any good", ("Nimbus Velo AX3000", "NR-AX3000-EU")),
        ("is the NR-AX3000 in stock?", ("NR-AX3000", "NR-AX3000-EU")),
        ("price of nr ax3000", ("nr ax3000", "NR-AX3000-EU")),
        ("price of NRAX3000", ("NRAX3000", "NR-AX3000-EU")),
        ("AX 3000 specs please", ("AX 3000", "NR-AX3000-EU")),
        ("do you sell the ax3000", ("ax3000", "NR-AX3000-EU")),
        ("order NR-AX3000-EU", ("NR-AX3000-EU", "NR-AX3000-EU")),
        ("is the NE-AX3000 fast", ("NE-AX3000", "NE-AX3000-EU")),
        ("does the ax3000 extender have antennas", ("ax3000 extender", "NE-AX3000-EU")),
        ("the raptor keeps rebooting", ("raptor", "NR-GX7800-EU")),
        ("Raptor GX7800 Gaming Router price", ("Raptor GX7800 Gaming Router", "NR-GX7800-EU")),
        ("i want the ax6000 pro", ("ax6000 pro", "NR-AX6000P-EU")),
        ("is the AX6000P good", ("AX6000P", "NR-AX6000P-EU")),
        ("ax 6000p specs", ("ax 6000p", "NR-AX6000P-EU")),
        ("can i buy NM-AX3000-2 in vienna", ("NM-AX3000-2", "NM-DUO-EU")),
        ("how much is the cheap router", ("cheap router", "NR-AX1800-EU")),
        ("Nimbus 8-Port Gigabit Switch in stock?", ("Nimbus 8-Port Gigabit Switch", "NW-SW8G-EU")),
        ("do you have a 2.5G switch", ("2.5G switch", "NW-SW8P-EU")),
        ("cancel my shield subscription", ("shield", "NS-SHIELD-M")),
    ],
)
def test_finds_products_by_name_alias_and_model_number(nlp: Language, text: str, expected: tuple[str, str]) -> None:
    assert _products(nlp, text) == [expected]


def test_finds_every_product_in_a_sentence_naming_two(nlp: Language) -> None:
    found = _products(nlp, "does the Mesh Duo work with the velo?")
    assert found == [("Mesh Duo", "NM-DUO-EU"), ("velo", "NR-AX3000-EU")]


@pytest.mark.parametrize(
    "text",
    [
        "my router is broken",
        "is mesh better than a router for big flats",
        "I need a new switch",
        "my extender is blinking red",
        "hello there",
    ],
)
def test_generic_words_are_not_products(nlp: Language, text: str) -> None:
    assert _products(nlp, text) == []


def test_model_number_shared_by_two_products_names_neither(nlp: Language) -> None:
    assert _products(nlp, "NS-SHIELD") == [("SHIELD", "NS-SHIELD-M")]  # the alias "shield", not the model number


def test_ensure_pipeline_rebuilds_only_when_the_catalog_changes(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "models" / "spacy" / "nimbus_catalog"
    assert ensure_pipeline(data_dir, out) == (out, True)
    stamp = (out / STAMP_FILE).read_text().strip()
    assert stamp == catalog_fingerprint(data_dir / "catalog" / "products.yml")
    assert ensure_pipeline(data_dir, out) == (out, False)
    assert ensure_pipeline(data_dir, out, force=True) == (out, True)

    products = data_dir / "catalog" / "products.yml"
    products.write_text(products.read_text().replace('"the cheap router"', '"the budget router"'))
    assert ensure_pipeline(data_dir, out) == (out, True)
    assert (out / STAMP_FILE).read_text().strip() != stamp
    assert ensure_pipeline(data_dir, out) == (out, False)
    reloaded = spacy.load(out)
    assert [(e.text, e.ent_id_) for e in reloaded("the budget router").ents] == [("budget router", "NR-AX1800-EU")]
    assert not reloaded("the cheap router").ents
    assert sorted(p.name for p in out.parent.iterdir()) == [".nimbus_catalog.lock", "nimbus_catalog"]


def test_saved_pipeline_loads_with_spacy_load(data_dir: Path, tmp_path: Path) -> None:
    out, _ = ensure_pipeline(data_dir, tmp_path / "nimbus_catalog")
    loaded = spacy.load(out)
    assert loaded.pipe_names == ["entity_ruler"]
    doc = loaded("Is the Velo AX3000 in stock in Berlin?")
    assert [(e.text, e.label_, e.ent_id_) for e in doc.ents] == [("Velo AX3000", "product", "NR-AX3000-EU")]


def test_default_dir_is_under_the_git_ignored_models_folder() -> None:
    assert DEFAULT_DIR.parts[0] == "models" and not DEFAULT_DIR.is_absolute()


def test_rasa_spacy_components_use_the_pipeline(data_dir: Path, tmp_path: Path) -> None:
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.constants import TOKENS_NAMES
    from rasa.nlu.extractors.spacy_entity_extractor import SpacyEntityExtractor
    from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
    from rasa.nlu.utils.spacy_utils import SpacyNLP
    from rasa.shared.nlu.constants import ENTITIES, TEXT
    from rasa.shared.nlu.training_data.message import Message

    out, _ = ensure_pipeline(data_dir, tmp_path / "nimbus_catalog")
    storage = LocalModelStorage(tmp_path / "rasa_storage")
    context = ExecutionContext(GraphSchema({}), "test")

    def create(component: type, name: str, config: dict) -> object:
        return component.create({**component.get_default_config(), **config}, storage, Resource(name), context)

    spacy_nlp = create(SpacyNLP, "spacy_nlp", {"model": str(out)})
    assert isinstance(spacy_nlp, SpacyNLP)
    tokenizer = create(SpacyTokenizer, "tokenizer", {})
    assert isinstance(tokenizer, SpacyTokenizer)
    extractor = create(SpacyEntityExtractor, "extractor", {"dimensions": ["product"]})
    assert isinstance(extractor, SpacyEntityExtractor)

    text = "How much is the Velo AX3000 in Berlin?"
    message = Message(data={TEXT: text})
    model = spacy_nlp.provide()
    spacy_nlp.process([message], model)
    tokenizer.process([message])
    extractor.process([message], model)

    tokens = [token.text for token in message.get(TOKENS_NAMES[TEXT])]
    assert tokens == ["how", "much", "is", "the", "velo", "ax3000", "in", "berlin", "?"]
    entities = message.get(ENTITIES)
    assert [(e["entity"], e["value"], e["start"], e["end"]) for e in entities] == [("product", "Velo AX3000", 16, 27)]
    assert entities[0]["extractor"] == "SpacyEntityExtractor"


def test_a_catalog_edit_changes_the_rasa_training_fingerprint(tmp_path: Path) -> None:
    from bot.training import fingerprint

    (tmp_path / "data" / "catalog").mkdir(parents=True)
    (tmp_path / "config.yml").write_text("a")
    products = tmp_path / "data" / "catalog" / "products.yml"
    products.write_text("products: []\n")
    before = fingerprint(tmp_path)
    (tmp_path / "data" / "catalog" / "stock.csv").write_text("not what the pipeline is built from")
    assert fingerprint(tmp_path) == before
    products.write_text("products: [] # edited\n")
    assert fingerprint(tmp_path) != before

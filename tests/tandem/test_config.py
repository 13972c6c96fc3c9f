import pytest

from tandem import config


def test_defaults_need_no_file():
    cfg = config.load()
    assert cfg["journal"]["fsync"] == "batch"
    assert cfg["aeron"]["inbound_channel"].startswith("aeron:ipc")


def test_file_overrides_only_what_it_names(tmp_path):
    p = tmp_path / "t.toml"
    p.write_text('[journal]\nfsync = "none"\n[capacity]\norders = 4096\n')
    cfg = config.load(p)
    assert cfg["journal"]["fsync"] == "none" and cfg["capacity"]["orders"] == 4096
    assert cfg["capacity"]["clients"] == config.DEFAULTS["capacity"]["clients"]


@pytest.mark.parametrize("text, words", [
    ("[jurnal]\nfsync = 'none'\n", "unknown config key jurnal"),
    ("[journal]\nfsink = 'none'\n", "unknown config key journal.fsink"),
    ("[capacity]\norders = 'many'\n", "capacity.orders must be int"),
    ("[journal\n", "t.toml"),
])
def test_bad_config_is_named(tmp_path, text, words):
    p = tmp_path / "t.toml"
    p.write_text(text)
    with pytest.raises(config.ConfigError, match=words.replace(".", r"\.")):
        config.load(p)

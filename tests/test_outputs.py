"""The output folder's list of captures: only files an earlier run listed, inside the folder, are removed."""

from vswitch.outputs import MANIFEST, clear_stale_captures


def test_only_listed_regular_files_inside_the_folder_are_removed(tmp_path):
    out, outside = tmp_path / "out", tmp_path / "outside.pcap"
    out.mkdir()
    outside.write_text("x")
    (out / "kept.pcap").write_text("x")
    (out / "old.pcap").write_text("x")
    (out / "folder.pcap").mkdir()
    (out / "link.pcap").symlink_to(outside)
    (out / MANIFEST).write_text(f"# a comment\nold.pcap\nkept.pcap\nfolder.pcap\nlink.pcap\n../outside.pcap\n"
                                f"{outside}\n")
    assert clear_stale_captures(out, [out / "kept.pcap"]) == ["old.pcap"]
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "folder.pcap", "kept.pcap", "link.pcap"]
    assert outside.exists()
    assert (out / MANIFEST).read_text().splitlines()[1:] == ["kept.pcap"]


def test_a_folder_without_a_list_loses_nothing(tmp_path):
    (tmp_path / "a.pcap").write_text("x")
    assert clear_stale_captures(tmp_path, []) == []
    assert (tmp_path / "a.pcap").exists()

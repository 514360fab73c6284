from ragqa.ingest.normalize import clean_line, join_lines, match_line, normalize_query, strip_pinyin


def test_pinyin_annotations_are_removed_but_acronyms_stay() -> None:
    assert strip_pinyin("規(guī)模以上工業(yè)") == "規模以上工業"
    assert strip_pinyin("危害分析(ccp)控制") == "危害分析(ccp)控制"
    assert strip_pinyin("我們(men)") == "我們"


def test_clean_line_removes_pdf_and_markdown_artefacts() -> None:
    assert clean_line("#### 一、黄胜可市长 牵头的重点工作") == "一、黄胜可市长牵头的重点工作"
    assert clean_line("> 东阳市人民政府 2022 年 5 月 31 日") == "东阳市人民政府2022年5月31日"
    assert clean_line("- (二) 完善工作机制, 加强**协调**配合") == "(二)完善工作机制,加强协调配合"
    assert clean_line("Smart City plan") == "Smart City plan"


def test_match_line_folds_width_and_script() -> None:
    assert match_line("縉云縣 增長 ７．５％") == "缙云县增长7.5%"
    assert normalize_query("  東陽 2023年 GDP ") == "东阳2023年生产总值"  # statistical acronyms spelled out


def test_join_lines_glues_sentences_broken_by_extraction() -> None:
    wrapped = ["一是进一步深化\"亩均论英雄\"改革，全面推进工业", "用地提质增效。", "二是推进。"]
    assert join_lines(wrapped) == '一是进一步深化"亩均论英雄"改革，全面推进工业用地提质增效。\n二是推进。'
    # A short line of its own (a heading, a date) is not glued to the text under it.
    assert join_lines(["一、指导思想", "认真贯彻中央经济工作会议精神。"]) == "一、指导思想\n认真贯彻中央经济工作会议精神。"

"""detect_language: deterministic ISO 639-1 codes, 'und' when too short or unsure."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.language import UND, detect_language

SAMPLES = {
    "en": "The city council met on Tuesday to discuss the new budget for public transport and schools.",
    "fr": "Le conseil municipal s'est réuni mardi pour discuter du nouveau budget des transports et des écoles.",
    "de": "Der Stadtrat hat sich am Dienstag getroffen, um über den neuen Haushalt für Verkehr und Schulen zu reden.",
    "ru": "Городской совет собрался во вторник, чтобы обсудить новый бюджет на общественный транспорт и школы.",
    "ar": "اجتمع مجلس المدينة يوم الثلاثاء لمناقشة الميزانية الجديدة للنقل العام والمدارس في المدينة.",
    "zh": "叙利亚总统巴沙尔·阿萨德周四在莫斯科表示，大马士革欢迎俄罗斯提出的任何在叙利亚建立新军事基地或增加驻军人数"
    "的建议。他说，俄罗斯在任何国家的军事存在都不应该是暂时的。",
}


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_detects_language(lang):
    res = detect_language(SAMPLES[lang])
    assert res.lang == lang
    assert 0.8 <= res.prob <= 1.0


def test_deterministic():
    text = "Ja, nee, misschien. Het weer is goed vandaag en morgen ook."
    assert len({detect_language(text) for _ in range(5)}) == 1


@pytest.mark.parametrize("text", ["", "Hi there", "12345 67890 !!! ??? 2023-03-16 10:00", "\u200b" * 50])
def test_too_short_is_und(text):
    res = detect_language(text)
    assert (res.lang, res.prob) == (UND, 0.0)


def test_unsure_is_und_with_its_probability():
    res = detect_language(SAMPLES["en"], min_prob=1.01)
    assert res.lang == UND and 0.8 <= res.prob <= 1.0


def test_zh_variants_collapse_to_zh(monkeypatch):
    """langdetect may split Chinese between zh-cn and zh-tw; their probabilities add up before choosing."""
    from langdetect.language import Language

    from transforms import language

    monkeypatch.setattr(
        language, "detect_langs", lambda text: [Language("zh-cn", 0.5), Language("ko", 0.3), Language("zh-tw", 0.2)]
    )
    res = detect_language(SAMPLES["zh"], min_prob=0.6)
    assert res.lang == "zh" and res.prob == pytest.approx(0.7)  # not zh-cn at 0.5
    assert detect_language(SAMPLES["zh"]).lang == UND  # 0.7 < default 0.8


def test_only_the_first_sample_chars_are_read():
    text = SAMPLES["en"] * 40 + SAMPLES["ru"] * 400
    assert detect_language(text).lang == "en"


def test_concurrent_first_use_gives_the_same_labels_as_sequential(monkeypatch):
    """Batches run on a thread pool: langdetect's lazy profile loading must not race (it mislabelled half a run),
    nor the rows of the profiles' probabilities that `transforms.language` adds at an n-gram's first use."""
    from concurrent.futures import ThreadPoolExecutor

    import langdetect.detector_factory as factory

    from transforms import language

    texts = [
        "The council approved the new budget on Tuesday after a long debate among its members and residents.",
        "Le conseil municipal a approuvé le nouveau budget mardi après un long débat entre ses membres.",
        "Der Stadtrat hat am Dienstag nach einer langen Debatte den neuen Haushalt für das Jahr beschlossen.",
        "El consejo aprobó el nuevo presupuesto el martes tras un largo debate entre sus miembros y vecinos.",
    ] * 8
    expected = [detect_language(t).lang for t in texts]
    assert expected[:4] == ["en", "fr", "de", "es"]
    for _ in range(3):
        factory._factory = None  # first use again, now from 8 threads at once
        monkeypatch.setattr(language, "_ROWS", language._ProfileRows())
        with ThreadPoolExecutor(8) as pool:
            assert [r.lang for r in pool.map(detect_language, texts)] == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=700), max_size=20))
def test_language_samples_in_arrow_are_the_python_samples(texts):
    import pyarrow as pa

    from transforms.language import language_sample, language_samples

    assert language_samples(pa.array(texts, pa.string())) == [language_sample(t) for t in texts]
    assert language_samples(pa.chunked_array([pa.array(texts, pa.string())])) == [language_sample(t) for t in texts]


def _probabilities(detect_langs, text: str) -> list[tuple[str, float]] | str:
    """`detect_langs(text)` seeded as the pipeline seeds it, as (lang, prob) pairs, or the error it raised."""
    from langdetect import DetectorFactory
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        return [(c.lang, c.prob) for c in detect_langs(text)]
    except LangDetectException as e:
        return str(e)


def _ours(text: str) -> list[tuple[str, float]] | str:
    from transforms import language

    return _probabilities(language.detect_langs, text)


def _langdetects_own(text: str) -> list[tuple[str, float]] | str:
    """langdetect's own `detect_langs` (its Detector)."""
    import langdetect

    return _probabilities(langdetect.detect_langs, text)


MIXED = [
    *SAMPLES.values(),
    "Il Consiglio comunale si è riunito martedì per discutere il nuovo bilancio dei trasporti e delle scuole.",
    "A câmara municipal reuniu-se na terça-feira para discutir o novo orçamento dos transportes e das escolas.",
    "Η δημοτική επιτροπή συνεδρίασε την Τρίτη για να συζητήσει τον νέο προϋπολογισμό για τις συγκοινωνίες.",
    "市議会は火曜日に会合を開き、公共交通機関と学校の新しい予算について話し合いました。",
    "시의회는 화요일에 모여 대중교통과 학교를 위한 새 예산을 논의했습니다.",
    "Hội đồng thành phố đã họp vào thứ Ba để thảo luận về ngân sách mới cho giao thông và trường học.",
    "नगर परिषद ने मंगलवार को सार्वजनिक परिवहन और स्कूलों के नए बजट पर चर्चा करने के लिए बैठक की।",
    "NATO AND THE UN SAID ON TUESDAY: the US-led talks in Geneva (see https://example.org/x?a=1) ended.",
    "Rada miasta zebrała się we wtorek, aby omówić nowy budżet transportu publicznego i szkół. Çok güzel şehir.",
    "zzzz qqqq xxxx",
    "!!! 123",
]


@pytest.mark.parametrize("text", MIXED)
def test_detect_langs_gives_langdetects_own_probabilities(text):
    """`transforms.language.detect_langs` (langdetect's Detector with faster inner loops) returns what langdetect's
    own returns, to the last bit, or raises as it does."""
    assert _ours(text) == _langdetects_own(text)


_LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ éèàçñöüßøåłşţșțđ  "
_LETTERS = _LATIN + "абвгдежзийклмнопрстуфхцчшщыэюя αβγδεζ"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(_LETTERS + "市議会は火曜日にアイウ가나다ابتثجح.,'\"-\n0123"), max_size=600))
def test_detect_langs_matches_langdetect_on_any_text(text):
    assert _ours(text) == _langdetects_own(text)

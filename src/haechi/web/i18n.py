"""Interface text in Korean (the default) and English."""

from __future__ import annotations

from typing import Literal

Language = Literal["ko", "en"]
LANGUAGES: tuple[Language, ...] = ("ko", "en")

_TEXT: dict[str, tuple[str, str]] = {
    # key: (Korean, English)
    "app": ("해치 검토", "haechi review"),
    "login": ("로그인", "Log in"),
    "logout": ("로그아웃", "Log out"),
    "username": ("사용자 이름", "User name"),
    "password": ("비밀번호", "Password"),
    "login_failed": ("사용자 이름 또는 비밀번호가 틀렸습니다.", "Wrong user name or password."),
    "too_many": (
        "로그인 시도가 너무 많습니다. 잠시 후 다시 시도하세요.",
        "Too many login attempts; try again in a few minutes.",
    ),
    "campaigns": ("캠페인", "Campaigns"),
    "no_campaigns": ("검토할 캠페인이 없습니다.", "No campaigns to review."),
    "start": ("검토 시작", "Start reviewing"),
    "items": ("항목", "Items"),
    "labels": ("라벨", "Labels"),
    "complete": ("완료", "Complete"),
    "overlap": ("중복 검토자 수", "Reviewers per item"),
    "conversation": ("대화", "Conversation"),
    "attack_chain": ("공격 체인", "Attack chain"),
    "turn": ("턴", "turn"),
    "verdicts": ("탐지기 판정", "Detector verdicts"),
    "verdicts_hidden": (
        "라벨을 제출하면 탐지기 판정이 보입니다.",
        "Detector verdicts appear after you submit your label.",
    ),
    "models": ("모델", "Models"),
    "models_hidden": (
        "투표하면 A와 B가 어느 모델인지 보입니다.",
        "The models behind A and B appear after you vote.",
    ),
    "ratings": ("브래들리–테리 레이팅", "Bradley–Terry ratings"),
    "rating": ("레이팅", "Rating"),
    "interval": ("95% 구간", "95% interval"),
    "record": ("승–패–무", "Won–lost–tied"),
    "submit": ("제출 (Enter)", "Submit (Enter)"),
    "skip": ("건너뛰기", "Skip"),
    "flag": ("관리자에게 표시", "Flag for an admin"),
    "flagged": ("표시됨", "Flagged"),
    "your_label": ("내 라벨", "Your label"),
    "done": ("남은 항목이 없습니다. 수고하셨습니다!", "Nothing left for you here. Thank you!"),
    "next_item": ("다음 항목 받기", "Get the next item"),
    "given_back": (
        "건너뛰었거나 관리자에게 표시한 항목입니다. 다른 검토자에게 넘어가 라벨을 받지 않습니다.",
        "You skipped or flagged this item: it went to another reviewer and takes no label from you.",
    ),
    "previous": ("이전 (K)", "Previous (K)"),
    "next": ("다음 (J)", "Next (J)"),
    "keys": (
        "단축키: 숫자로 선택, ↑/↓ 필드 이동, Enter 제출, J/K 다음/이전 항목",
        "Keys: numbers choose, ↑/↓ change field, Enter submits, J/K next/previous item",
    ),
    "adjudicate": ("판정", "Adjudicate"),
    "disagreements": ("불일치 항목", "Disagreements"),
    "no_disagreements": ("판정할 항목이 없습니다.", "Nothing to adjudicate."),
    "all_labels": ("모든 라벨", "All labels"),
    "reviewer": ("검토자", "Reviewer"),
    "gold": ("최종 라벨", "Gold label"),
    "correct_label": ("검토자 라벨 수정", "Correct a reviewer's label"),
    "save_gold": ("최종 라벨 저장", "Save gold label"),
    "dashboard": ("대시보드", "Dashboard"),
    "category": ("범주", "Category"),
    "human_asr": ("사람 판정 ASR", "Human ASR"),
    "detector_asr": ("탐지기 ASR", "Detector ASR"),
    "over_refusal": ("과잉 거절 (무해한 대조 질문)", "Over-refusal (benign controls)"),
    "human_refused": ("사람 판정 거절", "Refused (human)"),
    "detector_refused": ("탐지기 판정 거절", "Refused (detector)"),
    "human_eq_detector": ("사람 = 탐지기 일치율", "Human = detector"),
    "level": ("척도", "Level"),
    "agreement": ("검토자 간 일치도", "Inter-reviewer agreement"),
    "field": ("필드", "Field"),
    "alpha": ("크리펜도르프 알파", "Krippendorff's alpha"),
    "kappa": ("평균 코헨 카파", "Mean Cohen's kappa"),
    "export": ("내보내기", "Export"),
    "leaderboard": ("리더보드", "Leaderboard"),
    "model": ("모델", "Model"),
    "no_runs": ("저장된 평가 실행이 없습니다.", "No stored evaluation runs."),
    "users": ("사용자", "Users"),
    "role": ("역할", "Role"),
    "active": ("활성", "Active"),
    "add_user": ("사용자 추가", "Add user"),
    "members": ("검토자 배정", "Members"),
    "add_members": ("캠페인에 추가", "Add to campaign"),
    "save": ("저장", "Save"),
    "not_found": ("찾을 수 없거나 권한이 없습니다.", "Not found, or not yours to see."),
    "bad_request": ("입력이 올바르지 않습니다", "Invalid input"),
    "forbidden": (
        "요청을 확인할 수 없습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
        "The request could not be verified; reload the page and try again.",
    ),
    "store_failed": (
        "저장소에 쓸 수 없습니다(디스크가 가득 찼거나 읽기 전용). 이 요청은 저장되지 않았습니다. 관리자에게 알리고 잠시 후 다시 시도하세요.",
        "The store cannot be written (full disk or read-only); this request was not saved. Tell an admin and try again later.",
    ),
    "yes": ("예", "Yes"),
    "no": ("아니오", "No"),
    "none": ("없음", "none"),
}


def translate(key: str, language: Language) -> str:
    """The text for ``key`` in ``language`` (the key itself when unknown)."""
    pair = _TEXT.get(key)
    if pair is None:
        return key
    return pair[0] if language == "ko" else pair[1]

"""What every verifiable instruction shares: a check is a small pydantic model whose fields
are the instruction's keyword arguments (IFEval's ``kwargs``) and whose ``follows`` says
whether a response obeys it."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

# IFEval's two comparisons: "less than" N is count < N, "at least" N is count >= N.
Relation = Literal["less than", "at least"]
Count = Annotated[int, Field(ge=1)]
Text = Annotated[str, Field(min_length=1)]
Words = Annotated[list[Text], Field(min_length=1)]


class Check(BaseModel):
    """One instruction with its arguments; ``follows(response)`` never raises on any text.
    ``needs``: the optional packages (extra ``ko``) the check imports."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    needs: ClassVar[tuple[str, ...]] = ()

    def follows(self, response: str) -> bool:
        raise NotImplementedError


def compare(count: int, relation: Relation, threshold: int) -> bool:
    """``count`` < ``threshold`` for "less than", ``count`` >= ``threshold`` for "at least"."""
    return count < threshold if relation == "less than" else count >= threshold

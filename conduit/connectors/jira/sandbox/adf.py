"""Atlassian Document Format: Jira's rich-text JSON for descriptions and comments."""

from __future__ import annotations

from typing import Any


class AdfError(ValueError):
    """Not an ADF document; the message names the offending path."""


def validate(doc: Any, where: str = "body") -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise AdfError(f"{where}: expected an ADF document (a JSON object), got {type(doc).__name__}")
    if doc.get("type") != "doc" or doc.get("version") != 1:
        raise AdfError(f'{where}: an ADF document needs "type": "doc" and "version": 1')
    if not isinstance(doc.get("content"), list):
        raise AdfError(f'{where}: an ADF document needs a "content" list')
    _nodes(doc["content"], f"{where}.content")
    return doc


def _nodes(nodes: list[Any], where: str) -> None:
    for i, node in enumerate(nodes):
        path = f"{where}[{i}]"
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise AdfError(f'{path}: every node is an object with a "type"')
        if node["type"] == "text" and not isinstance(node.get("text"), str):
            raise AdfError(f'{path}: a text node needs a "text" string')
        if "content" in node:
            if not isinstance(node["content"], list):
                raise AdfError(f"{path}.content: must be a list")
            _nodes(node["content"], f"{path}.content")


def from_text(text: str) -> dict[str, Any]:
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def to_text(doc: Any) -> str:
    if not isinstance(doc, dict):
        return ""
    if doc.get("type") == "text":
        return str(doc.get("text", ""))
    parts = [to_text(child) for child in doc.get("content", []) if isinstance(child, dict)]
    sep = "\n" if doc.get("type") in ("doc", "bulletList", "orderedList") else ""
    return sep.join(parts)

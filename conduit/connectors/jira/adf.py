"""Atlassian Document Format: the JSON Jira wants for descriptions and comments instead of text."""

from __future__ import annotations

from typing import Any

Node = dict[str, Any]


def text(value: str, *, link: str | None = None, strong: bool = False) -> Node:
    node: Node = {"type": "text", "text": value}
    marks: list[Node] = []
    if strong:
        marks.append({"type": "strong"})
    if link:
        marks.append({"type": "link", "attrs": {"href": link}})
    if marks:
        node["marks"] = marks
    return node


def paragraph(*content: Node) -> Node:
    # An empty text node is invalid ADF; an empty paragraph is fine.
    return {"type": "paragraph", "content": [c for c in content if c.get("text", "x")]}


def code_block(value: str, language: str | None = None) -> Node:
    node: Node = {"type": "codeBlock", "content": [text(value)] if value else []}
    if language:
        node["attrs"] = {"language": language}
    return node


def doc(*content: Node) -> Node:
    return {"type": "doc", "version": 1, "content": list(content)}


def paragraphs(value: str) -> list[Node]:
    """Plain text, one paragraph per blank-line-separated block; line breaks kept as hardBreaks."""
    blocks = [b for b in value.replace("\r\n", "\n").split("\n\n") if b.strip()]
    nodes: list[Node] = []
    for block in blocks:
        content: list[Node] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                content.append({"type": "hardBreak"})
            if line:
                content.append(text(line))
        nodes.append({"type": "paragraph", "content": content})
    return nodes


def to_text(node: Any) -> str:
    """The readable text of a document (for webhooks' comments)."""
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "hardBreak":
        return "\n"
    children = [to_text(c) for c in node.get("content", []) if isinstance(c, dict)]
    joiner = "\n" if node.get("type") in ("doc", "bulletList", "orderedList") else ""
    return joiner.join(children)

#!/usr/bin/env python3
"""docs/ARCHITECTURE.md lists the layers of src/ top to bottom and says they
depend only downwards. This check reads that list and fails, naming the file
and the include, when a source includes a layer above its own or a layer the
list does not name."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
doc = (root / "docs/ARCHITECTURE.md").read_text()
block = doc.split("```", 2)[1]  # the first code block is the layer list
order = [m.group(1) for m in re.finditer(r"^([a-z_]+)/\s", block, re.M)]
if len(order) < 5:
    sys.exit(f"docs/ARCHITECTURE.md: found only {order} in the layer list")
rank = {layer: i for i, layer in enumerate(order)}
problems = []
for path in sorted((root / "src").rglob("*")):
    if path.suffix not in (".h", ".cc"):
        continue
    layer = path.relative_to(root / "src").parts[0]
    if layer not in rank:
        problems.append(f"{path.relative_to(root)}: layer {layer}/ is not in docs/ARCHITECTURE.md")
        continue
    for n, line in enumerate(path.read_text().splitlines(), 1):
        m = re.match(r'#include "([a-z_]+)/', line)
        if m and m.group(1) in rank and rank[m.group(1)] < rank[layer]:
            problems.append(f"{path.relative_to(root)}:{n}: {layer}/ includes {m.group(1)}/, a layer above it")
print(f"{len(order)} layers: {' > '.join(order)}")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)

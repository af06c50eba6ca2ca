"""Pictures of a topology and of a run: a self-contained HTML report (inline SVG and CSS, no script, nothing
fetched), the topology as SVG, and a Mermaid export. ``docs/report.md`` says how to read each part."""

"""The project-management digest, read top-down as the pipeline it is.

1. ``text``      — Markdown / plain text → blocks (other formats arrive as blocks already,
                   from ``workers.extract``); ``blocks`` holds the block model.
2. ``refine``    — speaker turns, chat/IRC lines, meeting-bot lines, rules, tallies.
3. ``sections``  — headings open sections, each with a role (actions, decisions, risks…).
4. extractors    — ``actions`` (with ``owners`` and ``dates``), ``decisions``, ``risks``,
                   ``people`` (and keywords), ``summary``; ``tables`` reads column roles.
5. ``digest``    — assembles the JSON that ``workers.analyse.analyse`` returns.
"""

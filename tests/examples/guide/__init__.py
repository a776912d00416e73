"""The integration guide's code as its users write it: each module is a step of the guide,
copied as written, with only the bodies the guide leaves to its user filled in (with
faster-whisper and the bundled tiny.en model). The server tests load these modules with
`serve --plugin`; a change the guide's code needed is marked "Not in the guide" where made.
"""

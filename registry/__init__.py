"""The achievement and demand registries: import and export files, search, matching, decline statistics.

`domain.registry` holds the records and `domain.matching` the pure scoring; this package does the I/O around them
(files, database, jieba) and is what activities, the CLI and the web layer call.
"""

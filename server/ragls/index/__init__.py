"""The Tantivy side of ragls: schema, the single index writer, and hybrid retrieval."""

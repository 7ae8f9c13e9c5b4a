"""The register of data-subject requests and of disclosures (the notice §8, §13)."""

"""Use cases. Each public function that changes state owns exactly one transaction."""

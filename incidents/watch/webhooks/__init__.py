"""The watch's ESP endpoints: anymail's own webhook views, validated identically, feeding the watch."""

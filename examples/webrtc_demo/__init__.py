"""Two node processes talking peer to peer over WebRTC, introduced by signaling."""

// Package wire is the cubby protocol on the socket: the plaintext
// preamble, the frame format and one struct per message. docs/PROTOCOL.md
// is the full specification; this package and that file change together.
//
// Protocol flow:
//
//	client → server  Magic, Version                (plaintext, 9 bytes)
//	server → client  Magic, Version                (each side checks the other's)
//	                 TLS 1.3 handshake, client first
//	client → server  AuthStart{SCRAM client-first}
//	server → client  AuthChallenge{server-first}   or Error{KindAuth}
//	client → server  AuthResponse{client-final}
//	server → client  AuthOK{server-final, user, cwd, must-change} or Error{KindAuth}
//	then requests, one at a time, each ended by its last frame or an Error:
//	  UploadRequest → UploadReady → UploadStart, Data…, UploadEnd → TransferDone
//	  DownloadRequest → DownloadReady, Data…, DownloadEnd
//
// Every frame is a 1-byte Type, a 4-byte big-endian payload length and the
// payload. A reader refuses a length over MaxFrameLen before allocating and
// ends the connection on an unknown type.
package wire

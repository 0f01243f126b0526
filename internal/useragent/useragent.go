// Package useragent names liveinject's own RTSP clients where a server of liveinject must tell
// them apart from others.
package useragent

// ReturnCheck is the User-Agent of the return check's requests (see inject's verifier): a
// player, but liveinject's own, which the built-in relay counts apart from the viewers.
const ReturnCheck = "liveinject return check"

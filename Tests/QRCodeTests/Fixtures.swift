/// A pairing string shaped like WhatsApp's: ref, noise key, identity key, ADV secret, platform.
let pairingString = "https://wa.me/settings/linked_devices#2@"
    + "Xk3pQ9vR7tLmN4bZc8Yw1sHj6gFd0aEe5uIoP2qWxCv+/KyTn3RbM7LsA9DfGh4JkZ1lQ8wE="
    + ",dGhpcyBpcyBhIHRlc3Qgbm9pc2Uga2V5IG9mIDMyIGI="
    + ",aWRlbnRpdHkga2V5IGZvciB0ZXN0cyBvbmx5ISEhISE="
    + ",YWR2IHNlY3JldCBmb3IgdGVzdHMgb25seSEhISEhISE="
    + ",9"

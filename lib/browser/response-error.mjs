// The error `make()` and failed POSTs reject with when the server answers non-2xx.
export class ResponseError extends Error {
    constructor(response) {
        super(response.statusText || String(response.status));
        this.response = response;
    }

    // Subclasses may read the body here; it is awaited before the error is thrown.
    async init() {}
}

export async function response_error(ErrorClass, response) {
    const err = new ErrorClass(response);
    await err.init();
    return err;
}
